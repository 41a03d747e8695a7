/**
 * End-to-end encryption keys in Postgres: device keys, one-time and fallback keys, and the key counts
 * that every change reports to the owner's UserSync object (which serves them to /sync).
 */
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { JsonObject } from "../core/events/pdu";
import type { Database } from "../db/client";
import {
  e2eCrossSigningSignatures,
  e2eDeviceKeys,
  e2eFallbackKeys,
  e2eKeyCountVersions,
  e2eOneTimeKeys,
} from "../db/schema";
import type { OneTimeKeyCounts } from "../../durable-objects/user-sync";
import type { Env } from "../env";
import type { DeviceOwner, UploadedKey } from "../e2ee/device-keys";
import { sameJson } from "../e2ee/signatures";
import { invalidParam } from "../http/errors";
import { userSyncStub } from "../sync/user-sync-stub";

/** A transaction, or the database outside one. */
export type Queryable = Pick<Database, "select" | "insert" | "update" | "delete" | "$with" | "with">;

/** Key counts as of one change of a device's keys, ordered by `version`. */
export interface VersionedKeyCounts {
  owner: DeviceOwner;
  version: number;
  counts: OneTimeKeyCounts;
}

export async function loadDeviceKeys(db: Queryable, owner: DeviceOwner): Promise<JsonObject | undefined> {
  const [row] = await db
    .select({ keyJson: e2eDeviceKeys.keyJson })
    .from(e2eDeviceKeys)
    .where(and(eq(e2eDeviceKeys.userId, owner.userId), eq(e2eDeviceKeys.deviceId, owner.deviceId)));
  return row?.keyJson as JsonObject | undefined;
}

/**
 * Stores a device's keys; returns whether they differ from what was stored. Cross-signing signatures
 * of the device's previous keys no longer apply to changed keys, so they go.
 */
export async function saveDeviceKeys(db: Queryable, owner: DeviceOwner, keys: JsonObject): Promise<boolean> {
  const previous = await loadDeviceKeys(db, owner);
  if (previous !== undefined && sameJson(previous, keys)) return false;
  await db
    .insert(e2eDeviceKeys)
    .values({ userId: owner.userId, deviceId: owner.deviceId, keyJson: keys, updatedTs: Date.now() })
    .onConflictDoUpdate({ target: [e2eDeviceKeys.userId, e2eDeviceKeys.deviceId], set: { keyJson: keys, updatedTs: Date.now() } });
  if (previous !== undefined) {
    await db
      .delete(e2eCrossSigningSignatures)
      .where(and(eq(e2eCrossSigningSignatures.targetUserId, owner.userId), eq(e2eCrossSigningSignatures.targetKeyId, owner.deviceId)));
  }
  return true;
}

/**
 * Stores one-time keys. A key ID already held with the same content is a harmless repeat; with other
 * content it is refused (M_INVALID_PARAM, as Synapse does), since the client would otherwise believe
 * a key was published that the server never hands out.
 */
export async function saveOneTimeKeys(db: Queryable, owner: DeviceOwner, keys: UploadedKey[]): Promise<void> {
  if (keys.length === 0) return;
  const existing = await db
    .select({ algorithm: e2eOneTimeKeys.algorithm, keyId: e2eOneTimeKeys.keyId, keyJson: e2eOneTimeKeys.keyJson })
    .from(e2eOneTimeKeys)
    .where(
      and(
        eq(e2eOneTimeKeys.userId, owner.userId),
        eq(e2eOneTimeKeys.deviceId, owner.deviceId),
        inArray(e2eOneTimeKeys.keyId, keys.map((key) => key.keyId)),
      ),
    );
  const held = new Map(existing.map((row) => [`${row.algorithm}:${row.keyId}`, row.keyJson]));
  const fresh = keys.filter((key) => {
    const stored = held.get(`${key.algorithm}:${key.keyId}`);
    if (stored === undefined) return true;
    if (!sameJson(stored, key.key)) throw invalidParam(`One-time key ${key.algorithm}:${key.keyId} already exists with other content`);
    return false;
  });
  if (fresh.length === 0) return;
  const now = Date.now();
  await db
    .insert(e2eOneTimeKeys)
    .values(fresh.map((key) => ({ ...owner, algorithm: key.algorithm, keyId: key.keyId, keyJson: key.key, uploadedTs: now })))
    .onConflictDoNothing();
}

/** Stores fallback keys, one per algorithm. Re-uploading the current key keeps its `used` mark. */
export async function saveFallbackKeys(db: Queryable, owner: DeviceOwner, keys: UploadedKey[]): Promise<void> {
  for (const key of keys) {
    const [current] = await db
      .select({ keyId: e2eFallbackKeys.keyId, keyJson: e2eFallbackKeys.keyJson })
      .from(e2eFallbackKeys)
      .where(
        and(eq(e2eFallbackKeys.userId, owner.userId), eq(e2eFallbackKeys.deviceId, owner.deviceId), eq(e2eFallbackKeys.algorithm, key.algorithm)),
      );
    if (current !== undefined && current.keyId === key.keyId && sameJson(current.keyJson, key.key)) continue;
    await db
      .insert(e2eFallbackKeys)
      .values({ ...owner, algorithm: key.algorithm, keyId: key.keyId, keyJson: key.key, used: false })
      .onConflictDoUpdate({
        target: [e2eFallbackKeys.userId, e2eFallbackKeys.deviceId, e2eFallbackKeys.algorithm],
        set: { keyId: key.keyId, keyJson: key.key, used: false },
      });
  }
}

/**
 * Bumps the device's key count version, then counts its keys. Taking the version's row lock first
 * makes concurrent uploads and claims of one device count one after another, each seeing the others'
 * committed changes, so a higher version always carries the newer counts.
 */
export async function countKeys(db: Queryable, owner: DeviceOwner): Promise<VersionedKeyCounts> {
  const [bumped] = await db
    .insert(e2eKeyCountVersions)
    .values({ ...owner, version: 1 })
    .onConflictDoUpdate({
      target: [e2eKeyCountVersions.userId, e2eKeyCountVersions.deviceId],
      set: { version: sql`${e2eKeyCountVersions.version} + 1` },
    })
    .returning({ version: e2eKeyCountVersions.version });
  const oneTimeKeys = await db
    .select({ algorithm: e2eOneTimeKeys.algorithm, count: sql<number>`count(*)::int` })
    .from(e2eOneTimeKeys)
    .where(and(eq(e2eOneTimeKeys.userId, owner.userId), eq(e2eOneTimeKeys.deviceId, owner.deviceId)))
    .groupBy(e2eOneTimeKeys.algorithm);
  const unusedFallback = await db
    .select({ algorithm: e2eFallbackKeys.algorithm })
    .from(e2eFallbackKeys)
    .where(and(eq(e2eFallbackKeys.userId, owner.userId), eq(e2eFallbackKeys.deviceId, owner.deviceId), eq(e2eFallbackKeys.used, false)));
  return {
    owner,
    version: bumped!.version,
    counts: {
      counts: Object.fromEntries(oneTimeKeys.map((row) => [row.algorithm, row.count])),
      unusedFallbackTypes: unusedFallback.map((row) => row.algorithm).sort(),
    },
  };
}

/** Hands the counts to the owner's UserSync object, where /sync reads them. */
export async function reportKeyCounts(env: Env, report: VersionedKeyCounts): Promise<void> {
  await userSyncStub(env, report.owner.userId).setOneTimeKeyCounts(report.owner.deviceId, report.version, report.counts);
}

export interface ClaimedKey {
  keyName: string;
  key: string | JsonObject;
}

/**
 * Claims one key of `algorithm` for a device: its oldest one-time key, deleted in the same statement
 * that picks it, or else its fallback key (marked used, not deleted). `SKIP LOCKED` lets concurrent
 * claims each take a different one-time key instead of waiting for, or taking, the same one.
 */
export async function claimKey(db: Queryable, owner: DeviceOwner, algorithm: string): Promise<ClaimedKey | undefined> {
  const ofDevice = and(
    eq(e2eOneTimeKeys.userId, owner.userId),
    eq(e2eOneTimeKeys.deviceId, owner.deviceId),
    eq(e2eOneTimeKeys.algorithm, algorithm),
  );
  // A CTE, not `key_id IN (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)`: Postgres may re-run such a
  // subquery for every row it compares, deleting more than one key.
  const oldest = db.$with("oldest").as(
    db
      .select({ keyId: e2eOneTimeKeys.keyId })
      .from(e2eOneTimeKeys)
      .where(ofDevice)
      .orderBy(asc(e2eOneTimeKeys.uploadedTs), asc(e2eOneTimeKeys.keyId))
      .limit(1)
      .for("update", { skipLocked: true }),
  );
  const [oneTimeKey] = await db
    .with(oldest)
    .delete(e2eOneTimeKeys)
    .where(and(ofDevice, inArray(e2eOneTimeKeys.keyId, db.select({ keyId: oldest.keyId }).from(oldest))))
    .returning({ keyId: e2eOneTimeKeys.keyId, keyJson: e2eOneTimeKeys.keyJson });
  if (oneTimeKey !== undefined) return { keyName: `${algorithm}:${oneTimeKey.keyId}`, key: oneTimeKey.keyJson as string | JsonObject };
  const [fallbackKey] = await db
    .update(e2eFallbackKeys)
    .set({ used: true })
    .where(and(eq(e2eFallbackKeys.userId, owner.userId), eq(e2eFallbackKeys.deviceId, owner.deviceId), eq(e2eFallbackKeys.algorithm, algorithm)))
    .returning({ keyId: e2eFallbackKeys.keyId, keyJson: e2eFallbackKeys.keyJson });
  if (fallbackKey !== undefined) return { keyName: `${algorithm}:${fallbackKey.keyId}`, key: fallbackKey.keyJson as string | JsonObject };
  return undefined;
}

/** Deleting devices deletes their keys and the cross-signing signatures of them. */
export async function deleteDeviceKeys(db: Queryable, userId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db.delete(e2eDeviceKeys).where(and(eq(e2eDeviceKeys.userId, userId), inArray(e2eDeviceKeys.deviceId, deviceIds)));
  await db.delete(e2eOneTimeKeys).where(and(eq(e2eOneTimeKeys.userId, userId), inArray(e2eOneTimeKeys.deviceId, deviceIds)));
  await db.delete(e2eFallbackKeys).where(and(eq(e2eFallbackKeys.userId, userId), inArray(e2eFallbackKeys.deviceId, deviceIds)));
  await db
    .delete(e2eCrossSigningSignatures)
    .where(and(eq(e2eCrossSigningSignatures.targetUserId, userId), inArray(e2eCrossSigningSignatures.targetKeyId, deviceIds)));
}
