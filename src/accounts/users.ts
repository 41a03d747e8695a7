/** Accounts in Postgres: creation, lookup, password changes, deactivation. */
import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { createProfile } from "./profiles";
import { users } from "../db/schema";
import { MatrixError } from "../http/errors";

export type UserRow = typeof users.$inferSelect;

export async function findUser(db: Database, userId: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.userId, userId));
  return row;
}

export interface NewUser {
  userId: string;
  passwordHash: string | null;
  admin?: boolean;
  isGuest?: boolean;
  userType?: string | null;
  /** The initial display name; defaults to the localpart, as Synapse does (guests get none). */
  displayName?: string;
}

/** Inserts the account; M_USER_IN_USE if the ID is taken, including by a deactivated account. */
export async function createUser(db: Database, user: NewUser): Promise<void> {
  const inserted = await db
    .insert(users)
    .values({
      userId: user.userId,
      passwordHash: user.passwordHash,
      admin: user.admin ?? false,
      isGuest: user.isGuest ?? false,
      userType: user.userType ?? null,
      createdTs: Date.now(),
    })
    .onConflictDoNothing()
    .returning({ userId: users.userId });
  if (inserted.length === 0) throw new MatrixError(400, "M_USER_IN_USE", "User ID already taken.");
  const localpart = user.userId.slice(1, user.userId.indexOf(":"));
  const displayName = user.displayName ?? (user.isGuest ? undefined : localpart);
  await createProfile(db, user.userId, displayName === undefined ? {} : { displayname: displayName });
}

export async function setPasswordHash(db: Database, userId: string, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash }).where(eq(users.userId, userId));
}

export async function markDeactivated(db: Database, userId: string, erase: boolean): Promise<void> {
  await db.update(users).set({ deactivated: true, passwordHash: null, erased: erase }).where(eq(users.userId, userId));
}
