/**
 * Cross-signing keys and the signatures uploaded for keys (POST /keys/signatures/upload) in Postgres,
 * and how they are shown to a requester: signatures a user made on their own keys are public;
 * signatures one user made on another's master key are shown only to the user who made them.
 */
import { and, eq, inArray, or, sql } from "drizzle-orm";
import type { JsonObject } from "../core/events/pdu";
import type { Database } from "../db/client";
import { e2eCrossSigningKeys, e2eCrossSigningSignatures } from "../db/schema";
import type { CrossSigningUsage } from "../e2ee/cross-signing";

export interface StoredCrossSigningKey {
  publicKey: string;
  key: JsonObject;
}

export type CrossSigningKeySet = Partial<Record<CrossSigningUsage, StoredCrossSigningKey>>;

export interface StoredSignature {
  targetUserId: string;
  targetKeyId: string;
  userId: string;
  keyId: string;
  signature: string;
}

/** The cross-signing keys of each of `userIds` that has any. */
export async function loadCrossSigningKeys(db: Database, userIds: string[]): Promise<Map<string, CrossSigningKeySet>> {
  const keys = new Map<string, CrossSigningKeySet>();
  if (userIds.length === 0) return keys;
  const rows = await db.select().from(e2eCrossSigningKeys).where(inArray(e2eCrossSigningKeys.userId, userIds));
  for (const row of rows) {
    const set = keys.get(row.userId) ?? {};
    set[row.usage as CrossSigningUsage] = { publicKey: row.publicKey, key: row.keyJson as JsonObject };
    keys.set(row.userId, set);
  }
  return keys;
}

/** Uploaded signatures of the keys of `targetUserIds` that `viewer` may see. */
export async function loadVisibleSignatures(db: Database, targetUserIds: string[], viewer: string): Promise<StoredSignature[]> {
  if (targetUserIds.length === 0) return [];
  return db
    .select()
    .from(e2eCrossSigningSignatures)
    .where(
      and(
        inArray(e2eCrossSigningSignatures.targetUserId, targetUserIds),
        or(eq(e2eCrossSigningSignatures.userId, e2eCrossSigningSignatures.targetUserId), eq(e2eCrossSigningSignatures.userId, viewer)),
      ),
    );
}

/** A key object with the uploaded signatures of it added to the ones it was uploaded with. */
export function withSignatures(key: JsonObject, signatures: readonly StoredSignature[]): JsonObject {
  if (signatures.length === 0) return key;
  const merged: Record<string, Record<string, string>> = {};
  const own = key["signatures"];
  if (typeof own === "object" && own !== null && !Array.isArray(own)) {
    for (const [userId, byKey] of Object.entries(own)) merged[userId] = { ...(byKey as Record<string, string>) };
  }
  for (const signature of signatures) (merged[signature.userId] ??= {})[signature.keyId] = signature.signature;
  return { ...key, signatures: merged };
}

export async function saveSignatures(db: Database, signatures: StoredSignature[]): Promise<void> {
  if (signatures.length === 0) return;
  await db
    .insert(e2eCrossSigningSignatures)
    .values(signatures)
    .onConflictDoUpdate({
      target: [
        e2eCrossSigningSignatures.targetUserId,
        e2eCrossSigningSignatures.targetKeyId,
        e2eCrossSigningSignatures.userId,
        e2eCrossSigningSignatures.keyId,
      ],
      set: { signature: sql`excluded.signature` },
    });
}
