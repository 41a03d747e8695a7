/** Login and token refresh (spec: "Login", "Refreshing access tokens"). */
import type { Hono } from "hono";
import { z } from "zod";
import { checkPassword, loginUserId, passwordCredentialsSchema } from "../../accounts/password-login";
import { hashToken, refreshTokenOwner } from "../../accounts/session-tokens";
import { startSession, userSessions } from "../../accounts/sessions";
import type { AppEnv } from "../../http/context";
import { MatrixError } from "../../http/errors";
import { clientAddress, enforceRateLimit } from "../../http/rate-limit";
import { readJsonBody, parseWithSchema, readJsonObject } from "../../http/request-body";

const loginSchema = z.looseObject({
  type: z.string(),
  device_id: z.string().optional(),
  initial_device_display_name: z.string().optional(),
  refresh_token: z.boolean().optional(),
});

const refreshSchema = z.object({ refresh_token: z.string() });

export function registerLoginRoutes(client: Hono<AppEnv>): void {
  client.get("/login", (c) => c.json({ flows: [{ type: "m.login.password" }] }));

  client.post("/login", async (c) => {
    const config = c.get("config");
    const raw = await readJsonObject(c);
    const body = parseWithSchema(loginSchema, raw);
    await enforceRateLimit(c, `login:${clientAddress(c)}`, config.rateLimits.loginPerAddress);
    if (body.type !== "m.login.password") {
      throw new MatrixError(400, "M_UNKNOWN", `Unknown login type ${body.type}`);
    }
    const credentials = parseWithSchema(passwordCredentialsSchema, raw);
    const userId = loginUserId(credentials, config.serverName);
    // Failed attempts are counted per account, so guessing one user's password is slow from anywhere.
    const failedKey = `login-failed:${userId}`;
    await enforceRateLimit(c, failedKey, config.rateLimits.loginFailedAttempts, 0);
    try {
      await checkPassword(c.get("database").db, userId, credentials.password);
    } catch (error) {
      if (error instanceof MatrixError && error.errcode === "M_FORBIDDEN") {
        await enforceRateLimit(c, failedKey, config.rateLimits.loginFailedAttempts).catch(() => undefined);
      }
      throw error;
    }
    return c.json(
      await startSession(c, userId, {
        deviceId: body.device_id,
        initialDisplayName: body.initial_device_display_name,
        withRefreshToken: body.refresh_token,
      }),
    );
  });

  client.post("/refresh", async (c) => {
    const { refresh_token: refreshToken } = await readJsonBody(c, refreshSchema);
    const userId = refreshTokenOwner(refreshToken);
    const unknown = new MatrixError(401, "M_UNKNOWN_TOKEN", "Unrecognised refresh token", { soft_logout: false });
    if (userId === undefined) throw unknown;
    const outcome = await userSessions(c, userId).refresh(userId, await hashToken(refreshToken));
    if (outcome.status !== "refreshed") throw unknown;
    return c.json({
      access_token: outcome.accessToken,
      refresh_token: outcome.refreshToken,
      expires_in_ms: outcome.expiresInMs,
    });
  });
}
