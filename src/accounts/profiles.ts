/** Profiles in Postgres: one JSON object of fields per local user. */
import { eq } from "drizzle-orm";
import type { JsonObject, JsonValue } from "../core/events/pdu";
import type { Database } from "../db/client";
import { profiles } from "../db/schema";

export async function readProfile(db: Database, userId: string): Promise<JsonObject | undefined> {
  const [row] = await db.select({ fields: profiles.fields }).from(profiles).where(eq(profiles.userId, userId));
  return row?.fields as JsonObject | undefined;
}

export async function createProfile(db: Database, userId: string, fields: JsonObject): Promise<void> {
  await db.insert(profiles).values({ userId, fields }).onConflictDoNothing();
}

/**
 * Sets (value given) or removes (undefined) one field. `accept` sees the profile as it would be and may
 * throw to refuse it (size limits); the row is locked meanwhile, so concurrent updates of different
 * fields (clients set displayname and avatar_url at once) never lose each other.
 */
export async function updateProfileField(
  db: Database,
  userId: string,
  key: string,
  value: JsonValue | undefined,
  accept: (profile: JsonObject) => void,
): Promise<JsonObject> {
  return db.transaction(async (tx) => {
    await tx.insert(profiles).values({ userId, fields: {} }).onConflictDoNothing();
    const [row] = await tx.select({ fields: profiles.fields }).from(profiles).where(eq(profiles.userId, userId)).for("update");
    const updated: JsonObject = { ...((row?.fields ?? {}) as JsonObject) };
    if (value === undefined) delete updated[key];
    else updated[key] = value;
    accept(updated);
    await tx.update(profiles).set({ fields: updated }).where(eq(profiles.userId, userId));
    return updated;
  });
}

/** The profile fields that go into a user's m.room.member events. */
export interface MemberProfile {
  displayname?: string;
  avatar_url?: string;
}

export function memberProfileOf(profile: JsonObject | undefined): MemberProfile {
  const displayname = profile?.["displayname"];
  const avatarUrl = profile?.["avatar_url"];
  return {
    ...(typeof displayname === "string" ? { displayname } : {}),
    ...(typeof avatarUrl === "string" ? { avatar_url: avatarUrl } : {}),
  };
}

export async function readMemberProfile(db: Database, userId: string): Promise<MemberProfile> {
  return memberProfileOf(await readProfile(db, userId));
}
