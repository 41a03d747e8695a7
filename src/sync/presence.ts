/**
 * Presence (spec: "Presence"): a user's state lives in their own UserSync object; a change is handed to
 * the streams of every local user who shares a room with them. Finding those users asks the Postgres
 * membership index, which is why only changes fan out, never a sync that finds nothing new.
 */
import { sql } from "drizzle-orm";
import type { PresenceState } from "../../durable-objects/user-sync";
import type { Config } from "../config";
import { withDatabase, type Database } from "../db/client";
import type { Env } from "../env";
import { userSyncStub } from "./user-sync-stub";

export const PRESENCE_STATES = ["online", "offline", "unavailable"] as const;

/** Local users who share a joined room with `userId`, not counting `userId`. */
export async function usersSharingRoomsWith(db: Database, userId: string, serverName: string): Promise<string[]> {
  const result = await db.execute<{ user_id: string }>(sql`
    SELECT DISTINCT other.user_id FROM room_memberships mine
      JOIN room_memberships other ON other.room_id = mine.room_id AND other.membership = 'join'
      WHERE mine.user_id = ${userId} AND mine.membership = 'join' AND other.user_id <> ${userId}`);
  const suffix = `:${serverName}`;
  return result.rows.map((row) => row.user_id).filter((other) => other.endsWith(suffix));
}

export async function sharesRoomWith(db: Database, userId: string, other: string): Promise<boolean> {
  const result = await db.execute<{ shared: number }>(sql`
    SELECT 1 AS shared FROM room_memberships mine
      JOIN room_memberships theirs ON theirs.room_id = mine.room_id AND theirs.membership = 'join'
      WHERE mine.user_id = ${userId} AND mine.membership = 'join' AND theirs.user_id = ${other} LIMIT 1`);
  return result.rows.length > 0;
}

/** Tells everyone sharing a room with `userId` about their new presence. */
export async function publishPresence(env: Env, config: Config, userId: string, state: PresenceState): Promise<void> {
  const audience = await withDatabase(config, (db) => usersSharingRoomsWith(db, userId, config.serverName));
  await Promise.all(audience.map((other) => userSyncStub(env, other).presenceChanged({ userId, state })));
}

/** The m.presence content clients see: `last_active_ago` instead of a timestamp. */
export function presenceContent(state: PresenceState, now: number): Record<string, unknown> {
  return {
    presence: state.presence,
    last_active_ago: Math.max(0, now - state.last_active_ts),
    currently_active: state.currently_active,
    ...(state.status_msg !== undefined ? { status_msg: state.status_msg } : {}),
  };
}
