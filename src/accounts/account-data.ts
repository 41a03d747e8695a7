/** Account data (global and per room): Postgres as the record, the user's UserSync stream for /sync. */
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import type { JsonObject } from "../core/events/pdu";
import type { Database } from "../db/client";
import { accountData } from "../db/schema";
import type { AppEnv } from "../http/context";
import { userSyncStub } from "../sync/user-sync-stub";

/** The room ID global account data is stored under. */
export const GLOBAL = "";

export async function readAccountData(
  db: Database,
  userId: string,
  roomId: string,
  type: string,
): Promise<JsonObject | undefined> {
  const [row] = await db
    .select({ content: accountData.content })
    .from(accountData)
    .where(and(eq(accountData.userId, userId), eq(accountData.roomId, roomId), eq(accountData.type, type)));
  return row?.content as JsonObject | undefined;
}

/** Every account data entry of a user, for an initial sync. */
export async function readAllAccountData(
  db: Database,
  userId: string,
): Promise<{ roomId: string; type: string; content: JsonObject }[]> {
  const rows = await db
    .select({ roomId: accountData.roomId, type: accountData.type, content: accountData.content })
    .from(accountData)
    .where(eq(accountData.userId, userId));
  return rows.map((row) => ({ ...row, content: row.content as JsonObject }));
}

export async function writeAccountData(
  c: Context<AppEnv>,
  userId: string,
  roomId: string,
  type: string,
  content: JsonObject,
): Promise<void> {
  await c
    .get("database")
    .db.insert(accountData)
    .values({ userId, roomId, type, content, updatedTs: Date.now() })
    .onConflictDoUpdate({
      target: [accountData.userId, accountData.roomId, accountData.type],
      set: { content, updatedTs: Date.now() },
    });
  await userSyncStub(c.env, userId).accountDataChanged(roomId, type, content);
}
