/**
 * Device list updates (spec: "Tracking the device list for a user"): when a user's devices or
 * cross-signing keys change, every local user sharing a room with them — and the user themselves —
 * gets the user in `device_lists.changed` of their next sync. Key changes are rare, so who shares a
 * room is asked of the Postgres membership index each time.
 */
import { and, eq } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { serverNameOf } from "../core/identifiers";
import type { Database } from "../db/client";
import { roomMemberships } from "../db/schema";
import type { Env } from "../env";
import { userSyncStub } from "../sync/user-sync-stub";

/** Local users joined to a room `userId` is joined to, `userId` included. */
export async function localUsersSharingRoomsWith(db: Database, serverName: string, userId: string): Promise<string[]> {
  const own = alias(roomMemberships, "own");
  const rows = await db
    .selectDistinct({ userId: roomMemberships.userId })
    .from(roomMemberships)
    .innerJoin(own, and(eq(own.roomId, roomMemberships.roomId), eq(own.userId, userId), eq(own.membership, "join")))
    .where(eq(roomMemberships.membership, "join"));
  const users = new Set([userId, ...rows.map((row) => row.userId)]);
  return [...users].filter((user) => serverNameOf(user) === serverName);
}

/** Tells everyone concerned that `userId`'s device list changed. */
export async function announceDeviceListChange(env: Env, db: Database, serverName: string, userId: string): Promise<void> {
  const users = await localUsersSharingRoomsWith(db, serverName, userId);
  await Promise.all(users.map((user) => userSyncStub(env, user).deviceListsChanged([userId])));
}
