/**
 * Server-side key backups (spec: "Server-side key backups"): backup versions under /room_keys/version
 * and their keys under /room_keys/keys, for all rooms, one room or one session.
 *
 * Keys can be stored only in the current (newest, not deleted) version; an older one gets
 * M_WRONG_ROOM_KEYS_VERSION with the current version. Every change to a version's keys bumps its
 * etag, inside a transaction that holds the version's row, so concurrent uploads apply one at a time.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { Database } from "../../db/client";
import { e2eRoomKeyVersions, e2eRoomKeys } from "../../db/schema";
import { shouldReplaceBackedUpKey } from "../../e2ee/key-backup";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam, missingParam, notFound } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";

const createVersionSchema = z.looseObject({
  algorithm: z.string().min(1),
  auth_data: z.record(z.string(), z.unknown()),
});

const updateVersionSchema = z.looseObject({
  algorithm: z.string().min(1),
  auth_data: z.record(z.string(), z.unknown()),
  version: z.string().optional(),
});

const keyBackupDataSchema = z.looseObject({
  first_message_index: z.number().int().min(0),
  forwarded_count: z.number().int().min(0),
  is_verified: z.boolean(),
  session_data: z.record(z.string(), z.unknown()),
});

const roomKeyBackupSchema = z.looseObject({ sessions: z.record(z.string(), keyBackupDataSchema) });
const allKeysSchema = z.looseObject({ rooms: z.record(z.string(), roomKeyBackupSchema) });

type KeyBackupData = z.infer<typeof keyBackupDataSchema>;
type VersionRow = typeof e2eRoomKeyVersions.$inferSelect;
type KeyRow = typeof e2eRoomKeys.$inferSelect;

/** Which keys of a version a request is about. */
interface KeyScope {
  roomId?: string;
  sessionId?: string;
}

/** Backup versions are numbers here; anything else names no version. */
function parseVersion(text: string | undefined): number | undefined {
  return text !== undefined && /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : undefined;
}

function versionQuery(c: Context<AppEnv>): string {
  const version = c.req.query("version");
  if (version === undefined) throw missingParam("Missing parameter: version");
  return version;
}

const unknownVersion = (version: string): MatrixError => notFound(`Unknown backup version ${version}`);

async function findVersion(db: Pick<Database, "select">, userId: string, versionText: string): Promise<VersionRow | undefined> {
  const version = parseVersion(versionText);
  if (version === undefined) return undefined;
  const [row] = await db
    .select()
    .from(e2eRoomKeyVersions)
    .where(and(eq(e2eRoomKeyVersions.userId, userId), eq(e2eRoomKeyVersions.version, version)));
  return row;
}

async function currentVersion(db: Pick<Database, "select">, userId: string): Promise<VersionRow | undefined> {
  const [row] = await db
    .select()
    .from(e2eRoomKeyVersions)
    .where(and(eq(e2eRoomKeyVersions.userId, userId), eq(e2eRoomKeyVersions.deleted, false)))
    .orderBy(desc(e2eRoomKeyVersions.version))
    .limit(1);
  return row;
}

async function countKeys(db: Pick<Database, "select">, userId: string, version: number): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(e2eRoomKeys)
    .where(and(eq(e2eRoomKeys.userId, userId), eq(e2eRoomKeys.version, version)));
  return row?.count ?? 0;
}

async function describeVersion(db: Database, row: VersionRow): Promise<Record<string, unknown>> {
  return {
    algorithm: row.algorithm,
    auth_data: row.authData,
    count: await countKeys(db, row.userId, row.version),
    etag: String(row.etag),
    version: String(row.version),
  };
}

function keyScopeConditions(userId: string, version: number, scope: KeyScope) {
  return and(
    eq(e2eRoomKeys.userId, userId),
    eq(e2eRoomKeys.version, version),
    scope.roomId === undefined ? undefined : eq(e2eRoomKeys.roomId, scope.roomId),
    scope.sessionId === undefined ? undefined : eq(e2eRoomKeys.sessionId, scope.sessionId),
  );
}

function keyBackupData(row: KeyRow): KeyBackupData {
  return {
    first_message_index: row.firstMessageIndex,
    forwarded_count: row.forwardedCount,
    is_verified: row.isVerified,
    session_data: row.sessionData,
  };
}

/** Stores keys in the current version, each only if the spec's rule prefers it to the stored one. */
async function storeKeys(c: Context<AppEnv>, keys: { roomId: string; sessionId: string; data: KeyBackupData }[]): Promise<Response> {
  const userId = c.get("requester").userId;
  const versionText = versionQuery(c);
  const db = c.get("database").db;
  const result = await db.transaction(async (tx) => {
    const current = await currentVersion(tx, userId);
    if (current === undefined || String(current.version) !== versionText) {
      const requested = await findVersion(tx, userId, versionText);
      if (current === undefined || requested === undefined || requested.deleted) throw unknownVersion(versionText);
      throw new MatrixError(403, "M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version.", { current_version: String(current.version) });
    }
    // Holding the version's row makes concurrent uploads to it apply one after another.
    await tx
      .select({ version: e2eRoomKeyVersions.version })
      .from(e2eRoomKeyVersions)
      .where(and(eq(e2eRoomKeyVersions.userId, userId), eq(e2eRoomKeyVersions.version, current.version)))
      .for("update");
    let changed = false;
    for (const { roomId, sessionId, data } of keys) {
      const [stored] = await tx.select().from(e2eRoomKeys).where(keyScopeConditions(userId, current.version, { roomId, sessionId }));
      if (stored !== undefined && !shouldReplaceBackedUpKey(keyBackupData(stored), data)) continue;
      const values = {
        firstMessageIndex: data.first_message_index,
        forwardedCount: data.forwarded_count,
        isVerified: data.is_verified,
        sessionData: data.session_data,
      };
      await tx
        .insert(e2eRoomKeys)
        .values({ userId, version: current.version, roomId, sessionId, ...values })
        .onConflictDoUpdate({ target: [e2eRoomKeys.userId, e2eRoomKeys.version, e2eRoomKeys.roomId, e2eRoomKeys.sessionId], set: values });
      changed = true;
    }
    const etag = changed ? await bumpEtag(tx, userId, current.version) : current.etag;
    return { etag: String(etag), count: await countKeys(tx, userId, current.version) };
  });
  return c.json(result);
}

async function bumpEtag(db: Pick<Database, "update">, userId: string, version: number): Promise<number> {
  const [row] = await db
    .update(e2eRoomKeyVersions)
    .set({ etag: sql`${e2eRoomKeyVersions.etag} + 1` })
    .where(and(eq(e2eRoomKeyVersions.userId, userId), eq(e2eRoomKeyVersions.version, version)))
    .returning({ etag: e2eRoomKeyVersions.etag });
  return row!.etag;
}

/** A version that exists and is not deleted (reading and deleting keys work on any such version). */
async function existingVersion(c: Context<AppEnv>): Promise<VersionRow> {
  const versionText = versionQuery(c);
  const row = await findVersion(c.get("database").db, c.get("requester").userId, versionText);
  if (row === undefined || row.deleted) throw unknownVersion(versionText);
  return row;
}

async function readKeys(c: Context<AppEnv>, scope: KeyScope): Promise<KeyRow[]> {
  const version = await existingVersion(c);
  return c.get("database").db.select().from(e2eRoomKeys).where(keyScopeConditions(version.userId, version.version, scope));
}

async function deleteKeys(c: Context<AppEnv>, scope: KeyScope): Promise<Response> {
  const version = await existingVersion(c);
  const result = await c.get("database").db.transaction(async (tx) => {
    await tx.delete(e2eRoomKeys).where(keyScopeConditions(version.userId, version.version, scope));
    const etag = await bumpEtag(tx, version.userId, version.version);
    return { etag: String(etag), count: await countKeys(tx, version.userId, version.version) };
  });
  return c.json(result);
}

function sessionsOf(rows: KeyRow[]): Record<string, KeyBackupData> {
  return Object.fromEntries(rows.map((row) => [row.sessionId, keyBackupData(row)]));
}

export function registerKeyBackupRoutes(client: Hono<AppEnv>): void {
  client.post("/room_keys/version", requireAuth, async (c) => {
    const userId = c.get("requester").userId;
    const body = await readJsonBody(c, createVersionSchema);
    const db = c.get("database").db;
    // Numbers are never reused, deleted versions included; should a concurrent creation take the same
    // number, the insert does nothing and the next number is tried.
    for (;;) {
      const [latest] = await db
        .select({ version: sql<string | null>`MAX(${e2eRoomKeyVersions.version})` })
        .from(e2eRoomKeyVersions)
        .where(eq(e2eRoomKeyVersions.userId, userId));
      const version = Number(latest?.version ?? 0) + 1;
      const [created] = await db
        .insert(e2eRoomKeyVersions)
        .values({ userId, version, algorithm: body.algorithm, authData: body.auth_data })
        .onConflictDoNothing()
        .returning({ version: e2eRoomKeyVersions.version });
      if (created !== undefined) return c.json({ version: String(created.version) });
    }
  });

  client.get("/room_keys/version", requireAuth, async (c) => {
    const db = c.get("database").db;
    const current = await currentVersion(db, c.get("requester").userId);
    if (current === undefined) throw notFound("No current backup version");
    return c.json(await describeVersion(db, current));
  });

  client.get("/room_keys/version/:version", requireAuth, async (c) => {
    const db = c.get("database").db;
    const row = await findVersion(db, c.get("requester").userId, c.req.param("version"));
    if (row === undefined || row.deleted) throw unknownVersion(c.req.param("version"));
    return c.json(await describeVersion(db, row));
  });

  client.put("/room_keys/version/:version", requireAuth, async (c) => {
    const versionText = c.req.param("version");
    const body = await readJsonBody(c, updateVersionSchema);
    if (body.version !== undefined && body.version !== versionText) throw invalidParam("The version in the body does not match the path");
    const db = c.get("database").db;
    const row = await findVersion(db, c.get("requester").userId, versionText);
    if (row === undefined || row.deleted) throw unknownVersion(versionText);
    if (body.algorithm !== row.algorithm) throw invalidParam("Algorithm does not match");
    await db
      .update(e2eRoomKeyVersions)
      .set({ authData: body.auth_data })
      .where(and(eq(e2eRoomKeyVersions.userId, row.userId), eq(e2eRoomKeyVersions.version, row.version)));
    return c.json({});
  });

  client.delete("/room_keys/version/:version", requireAuth, async (c) => {
    const versionText = c.req.param("version");
    const db = c.get("database").db;
    const row = await findVersion(db, c.get("requester").userId, versionText);
    if (row === undefined) throw unknownVersion(versionText);
    if (!row.deleted) {
      await db.transaction(async (tx) => {
        await tx.delete(e2eRoomKeys).where(and(eq(e2eRoomKeys.userId, row.userId), eq(e2eRoomKeys.version, row.version)));
        await tx
          .update(e2eRoomKeyVersions)
          .set({ deleted: true })
          .where(and(eq(e2eRoomKeyVersions.userId, row.userId), eq(e2eRoomKeyVersions.version, row.version)));
      });
    }
    return c.json({});
  });

  client.put("/room_keys/keys", requireAuth, async (c) => {
    const body = await readJsonBody(c, allKeysSchema);
    const keys = Object.entries(body.rooms).flatMap(([roomId, room]) =>
      Object.entries(room.sessions).map(([sessionId, data]) => ({ roomId, sessionId, data })),
    );
    return storeKeys(c, keys);
  });

  client.put("/room_keys/keys/:roomId", requireAuth, async (c) => {
    const roomId = c.req.param("roomId");
    const body = await readJsonBody(c, roomKeyBackupSchema);
    return storeKeys(c, Object.entries(body.sessions).map(([sessionId, data]) => ({ roomId, sessionId, data })));
  });

  client.put("/room_keys/keys/:roomId/:sessionId", requireAuth, async (c) => {
    const data = await readJsonBody(c, keyBackupDataSchema);
    return storeKeys(c, [{ roomId: c.req.param("roomId"), sessionId: c.req.param("sessionId"), data }]);
  });

  client.get("/room_keys/keys", requireAuth, async (c) => {
    const rooms: Record<string, { sessions: Record<string, KeyBackupData> }> = {};
    for (const row of await readKeys(c, {})) ((rooms[row.roomId] ??= { sessions: {} }).sessions[row.sessionId] = keyBackupData(row));
    return c.json({ rooms });
  });

  client.get("/room_keys/keys/:roomId", requireAuth, async (c) => {
    return c.json({ sessions: sessionsOf(await readKeys(c, { roomId: c.req.param("roomId") })) });
  });

  client.get("/room_keys/keys/:roomId/:sessionId", requireAuth, async (c) => {
    const [row] = await readKeys(c, { roomId: c.req.param("roomId"), sessionId: c.req.param("sessionId") });
    if (row === undefined) throw notFound("Key not found");
    return c.json(keyBackupData(row));
  });

  client.delete("/room_keys/keys", requireAuth, (c) => deleteKeys(c, {}));
  client.delete("/room_keys/keys/:roomId", requireAuth, (c) => deleteKeys(c, { roomId: c.req.param("roomId") }));
  client.delete("/room_keys/keys/:roomId/:sessionId", requireAuth, (c) =>
    deleteKeys(c, { roomId: c.req.param("roomId"), sessionId: c.req.param("sessionId") }),
  );
}
