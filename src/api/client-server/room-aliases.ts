/**
 * Room aliases (spec: "Room aliases" and "Room directory" alias mapping): PUT/GET/DELETE
 * /directory/room/{roomAlias} and GET /rooms/{roomId}/aliases, plus the validation of
 * m.room.canonical_alias content every state event path applies.
 */
import { and, asc, eq } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { findUser } from "../../accounts/users";
import type { JsonObject, JsonValue } from "../../core/events/pdu";
import { parseRoomAlias } from "../../core/identifiers";
import type { Database } from "../../db/client";
import { roomAliases } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, forbidden, invalidParam, notFound } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { requireRoomAlias, requireRoomId, roomStub } from "../../rooms/room-stub";

/** The room a local alias maps to, if any. */
export async function lookUpAlias(db: Database, alias: string): Promise<string | undefined> {
  const [row] = await db.select({ roomId: roomAliases.roomId }).from(roomAliases).where(eq(roomAliases.alias, alias));
  return row?.roomId;
}

/** A room ID, or the room a local alias maps to (aliases of other servers need federation: M_NOT_FOUND). */
export async function resolveRoomIdOrAlias(db: Database, value: string): Promise<string> {
  if (!value.startsWith("#")) return requireRoomId(value);
  const roomId = await lookUpAlias(db, requireRoomAlias(value));
  if (roomId === undefined) throw notFound(`Room alias ${value} not found`);
  return roomId;
}

function badAlias(message: string): MatrixError {
  return new MatrixError(400, "M_BAD_ALIAS", message);
}

async function assertAliasPointsTo(db: Database, alias: JsonValue | undefined, roomId: string): Promise<void> {
  if (typeof alias !== "string" || parseRoomAlias(alias) === null) throw badAlias(`Invalid alias: ${JSON.stringify(alias)}`);
  // Aliases of other servers cannot be resolved without federation, so they cannot be shown to point here.
  if ((await lookUpAlias(db, alias)) !== roomId) throw badAlias(`Room alias ${alias} does not point to the room`);
}

function aliasList(value: JsonValue | undefined): JsonValue[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The spec's rule for m.room.canonical_alias: aliases the event newly lists must be valid and map to
 * this room (M_BAD_ALIAS otherwise); aliases already in the previous content are not re-checked.
 */
export async function validateCanonicalAliasContent(
  db: Database,
  roomId: string,
  content: JsonObject,
  previous: JsonObject | undefined,
): Promise<void> {
  const alias = content["alias"];
  if (alias !== undefined && alias !== null && alias !== previous?.["alias"]) await assertAliasPointsTo(db, alias, roomId);
  const altAliases = content["alt_aliases"];
  if (altAliases === undefined) return;
  if (!Array.isArray(altAliases)) throw invalidParam("The alt_aliases property must be a list.");
  const known = new Set(aliasList(previous?.["alt_aliases"]));
  for (const altAlias of altAliases) {
    if (!known.has(altAlias)) await assertAliasPointsTo(db, altAlias, roomId);
  }
}

const createAliasSchema = z.object({ room_id: z.string() });

export function registerRoomAliasRoutes(client: Hono<AppEnv>): void {
  client.put("/directory/room/:roomAlias", requireAuth, async (c) => {
    const alias = requireRoomAlias(c.req.param("roomAlias"));
    const config = c.get("config");
    if (parseRoomAlias(alias)?.serverName !== config.serverName) throw invalidParam("Room alias must be local");
    const body = await readJsonBody(c, createAliasSchema);
    const roomId = requireRoomId(body.room_id);
    const { userId } = c.get("requester");
    const standing = await roomStub(c, roomId).getStanding(roomId, userId, "m.room.canonical_alias");
    if (standing.membership !== "join") throw forbidden("You must be in the room to create an alias for it");
    const inserted = await c
      .get("database")
      .db.insert(roomAliases)
      .values({ alias, roomId, creator: userId, createdTs: Date.now() })
      .onConflictDoNothing()
      .returning({ alias: roomAliases.alias });
    if (inserted.length === 0) throw new MatrixError(409, "M_UNKNOWN", `Room alias ${alias} already exists`);
    return c.json({});
  });

  client.get("/directory/room/:roomAlias", async (c) => {
    const alias = requireRoomAlias(c.req.param("roomAlias"));
    const roomId = await lookUpAlias(c.get("database").db, alias);
    if (roomId === undefined) throw notFound(`Room alias ${alias} not found`);
    return c.json({ room_id: roomId, servers: [c.get("config").serverName] });
  });

  client.delete("/directory/room/:roomAlias", requireAuth, async (c) => {
    const alias = requireRoomAlias(c.req.param("roomAlias"));
    const db = c.get("database").db;
    const [mapping] = await db.select().from(roomAliases).where(eq(roomAliases.alias, alias));
    if (mapping === undefined) throw notFound(`Room alias ${alias} not found`);
    const { userId } = c.get("requester");
    // As Synapse: the alias's creator, a server admin, or a member allowed to change the canonical alias.
    if (mapping.creator !== userId && (await findUser(db, userId))?.admin !== true) {
      const standing = await roomStub(c, mapping.roomId).getStanding(mapping.roomId, userId, "m.room.canonical_alias");
      if (standing.membership !== "join" || standing.powerLevel < standing.requiredStateLevel) {
        throw forbidden("You don't have permission to delete the alias.");
      }
    }
    await db.delete(roomAliases).where(and(eq(roomAliases.alias, alias), eq(roomAliases.roomId, mapping.roomId)));
    return c.json({});
  });

  client.get("/rooms/:roomId/aliases", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const standing = await roomStub(c, roomId).getStanding(roomId, c.get("requester").userId, "m.room.canonical_alias");
    if (standing.membership !== "join" && !standing.worldReadable) throw forbidden("You are not a member of the room.");
    const rows = await c
      .get("database")
      .db.select({ alias: roomAliases.alias })
      .from(roomAliases)
      .where(eq(roomAliases.roomId, roomId))
      .orderBy(asc(roomAliases.createdTs));
    return c.json({ aliases: rows.map((row) => row.alias) });
  });
}
