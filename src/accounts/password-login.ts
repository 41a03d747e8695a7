/**
 * Checking a user's password, shared by POST /login and the `m.login.password` UIA stage.
 * Accepts the `m.id.user` identifier and the legacy top-level `user` field.
 */
import { z } from "zod";
import { verifyPassword } from "../core/crypto/password-hash";
import type { Database } from "../db/client";
import { MatrixError, badJson, forbidden, missingParam } from "../http/errors";
import { localpartFromLoginName, userIdFor } from "./usernames";
import { findUser, type UserRow } from "./users";

export const passwordCredentialsSchema = z.object({
  identifier: z.looseObject({ type: z.string() }).optional(),
  user: z.string().optional(),
  password: z.string(),
});

export type PasswordCredentials = z.infer<typeof passwordCredentialsSchema>;

/** The user ID a login names, or an error if it names none of ours. */
export function loginUserId(credentials: PasswordCredentials, serverName: string): string {
  let name: string | undefined;
  if (credentials.identifier) {
    if (credentials.identifier.type !== "m.id.user") {
      // No third-party identifiers are bound to accounts here, so none can match.
      throw forbidden("Invalid username or password");
    }
    const user = credentials.identifier.user;
    if (user === undefined) throw missingParam("Missing parameter: identifier.user");
    if (typeof user !== "string") throw badJson("identifier.user must be a string");
    name = user;
  } else {
    name = credentials.user;
  }
  if (name === undefined) throw missingParam("Missing parameter: identifier");
  const localpart = localpartFromLoginName(name, serverName);
  if (localpart === undefined) throw forbidden("Invalid username or password");
  return userIdFor(localpart, serverName);
}

/** Returns the account if the password is right; the same M_FORBIDDEN whether the user or the password is wrong. */
export async function checkPassword(db: Database, userId: string, password: string): Promise<UserRow> {
  const user = await findUser(db, userId);
  const valid = user?.passwordHash ? await verifyPassword(password, user.passwordHash) : false;
  if (!user || !valid) throw forbidden("Invalid username or password");
  if (user.deactivated) throw new MatrixError(403, "M_USER_DEACTIVATED", "This account has been deactivated");
  return user;
}
