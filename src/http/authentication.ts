/**
 * The one auth middleware: resolves `Authorization: Bearer` (or the deprecated `access_token` query
 * parameter) to a Requester through the token owner's UserSessions Durable Object, never through Postgres.
 */
import type { Context, MiddlewareHandler } from "hono";
import { accessTokenOwner, hashToken } from "../accounts/session-tokens";
import type { AppEnv, Requester } from "./context";
import { MatrixError } from "./errors";

export function extractAccessToken(c: Context<AppEnv>): string | undefined {
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new MatrixError(401, "M_MISSING_TOKEN", "Invalid Authorization header");
    return match[1];
  }
  return c.req.query("access_token") || undefined;
}

const unknownToken = (softLogout: boolean): MatrixError =>
  new MatrixError(401, "M_UNKNOWN_TOKEN", softLogout ? "Access token has expired" : "Unrecognised access token", {
    soft_logout: softLogout,
  });

export async function authenticate(c: Context<AppEnv>): Promise<Requester> {
  const token = extractAccessToken(c);
  if (token === undefined) throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token");
  const userId = accessTokenOwner(token);
  if (userId === undefined) throw unknownToken(false);
  const accessTokenHash = await hashToken(token);
  const sessions = c.env.USER_SESSIONS.get(c.env.USER_SESSIONS.idFromName(userId));
  const check = await sessions.checkAccessToken(userId, accessTokenHash);
  if (check.status === "expired") throw unknownToken(true);
  if (check.status !== "valid") throw unknownToken(false);
  return { userId, deviceId: check.deviceId, accessTokenHash, isGuest: check.isGuest };
}

/** Route middleware for endpoints that need an access token. */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set("requester", await authenticate(c));
  await next();
};
