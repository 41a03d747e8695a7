/**
 * Account registration (spec: "Account registration and management"): POST /register with UIA,
 * GET /register/available, and the registration-token validity check.
 */
import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { startSession } from "../../accounts/sessions";
import { assertRegistrableLocalpart, userIdFor } from "../../accounts/usernames";
import { createUser, findUser } from "../../accounts/users";
import { hashPassword } from "../../core/crypto/password-hash";
import { randomString } from "../../core/crypto/secrets";
import type { Database } from "../../db/client";
import { registrationTokens } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { MatrixError, forbidden, missingParam } from "../../http/errors";
import { clientAddress, enforceRateLimit } from "../../http/rate-limit";
import { parseWithSchema, readJsonObject } from "../../http/request-body";
import { confirmRegistrationTokenUse, requireUserInteractiveAuth, type UiaStage } from "./user-interactive-auth";

/** Synapse refuses passwords over 512 characters: hashing them is a denial-of-service lever. */
const MAX_PASSWORD_LENGTH = 512;

const registerSchema = z.object({
  username: z.string().optional(),
  password: z.string().optional(),
  device_id: z.string().optional(),
  initial_device_display_name: z.string().optional(),
  inhibit_login: z.boolean().optional(),
  refresh_token: z.boolean().optional(),
  auth: z.unknown().optional(),
});

export function assertAcceptablePassword(password: string, minLength: number): void {
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new MatrixError(400, "M_INVALID_PARAM", `Password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  if (password.length < minLength) {
    throw new MatrixError(400, "M_PASSWORD_TOO_SHORT", `Password must be at least ${minLength} characters`);
  }
}

async function assertUsernameAvailable(db: Database, userId: string): Promise<void> {
  if (await findUser(db, userId)) throw new MatrixError(400, "M_USER_IN_USE", "User ID already taken.");
}

/** Guests and users who give no username get a numeric localpart, as Synapse does. */
function generatedLocalpart(): string {
  return `${Date.now()}${randomString(6, "0123456789")}`;
}

export function registerRegistrationRoutes(client: Hono<AppEnv>, clientV1: Hono<AppEnv>): void {
  client.post("/register", async (c) => {
    const config = c.get("config");
    const db = c.get("database").db;
    const kind = c.req.query("kind") ?? "user";
    if (kind !== "user" && kind !== "guest") throw new MatrixError(400, "M_INVALID_PARAM", `Invalid kind: ${kind}`);
    const raw = await readJsonObject(c, true);
    const body = parseWithSchema(registerSchema, raw);
    // Checked on every round, charged only for an account created (as Synapse's rc_registration does).
    const rateLimitKey = `register:${clientAddress(c)}`;
    await enforceRateLimit(c, rateLimitKey, config.rateLimits.registrationPerAddress, 0);

    if (kind === "guest") {
      if (!config.allowGuestAccess) throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled");
      const userId = userIdFor(generatedLocalpart(), config.serverName);
      await enforceRateLimit(c, rateLimitKey, config.rateLimits.registrationPerAddress);
      await createUser(db, { userId, passwordHash: null, isGuest: true });
      return c.json(await startSession(c, userId, { initialDisplayName: body.initial_device_display_name }));
    }

    if (!config.enableRegistration) throw forbidden("Registration has been disabled");
    let userId: string | undefined;
    if (body.username !== undefined) {
      assertRegistrableLocalpart(body.username, config.serverName);
      userId = userIdFor(body.username, config.serverName);
      // Checked before authentication, so a client learns of a taken name before walking the UIA flow.
      await assertUsernameAvailable(db, userId);
    }
    if (body.password !== undefined) assertAcceptablePassword(body.password, config.passwordMinLength);

    const stages: UiaStage[] = config.registrationRequiresToken ? ["m.login.registration_token"] : ["m.login.dummy"];
    const uia = await requireUserInteractiveAuth(c, raw, { flows: [stages] });

    if (body.password === undefined) throw missingParam("Missing parameter: password");
    userId ??= userIdFor(generatedLocalpart(), config.serverName);
    await enforceRateLimit(c, rateLimitKey, config.rateLimits.registrationPerAddress);
    await createUser(db, { userId, passwordHash: await hashPassword(body.password) });
    if (uia.registrationToken !== undefined) await confirmRegistrationTokenUse(db, uia.registrationToken);

    if (body.inhibit_login) return c.json({ user_id: userId });
    return c.json(
      await startSession(c, userId, {
        deviceId: body.device_id,
        initialDisplayName: body.initial_device_display_name,
        withRefreshToken: body.refresh_token,
      }),
    );
  });

  client.get("/register/available", async (c) => {
    const config = c.get("config");
    if (!config.enableRegistration) throw forbidden("Registration has been disabled");
    const username = c.req.query("username");
    if (username === undefined) throw missingParam("Missing parameter: username");
    await enforceRateLimit(c, `register-available:${clientAddress(c)}`, config.rateLimits.registrationPerAddress);
    assertRegistrableLocalpart(username, config.serverName);
    await assertUsernameAvailable(c.get("database").db, userIdFor(username, config.serverName));
    return c.json({ available: true });
  });

  clientV1.get("/register/m.login.registration_token/validity", async (c) => {
    const token = c.req.query("token");
    if (token === undefined) throw missingParam("Missing parameter: token");
    await enforceRateLimit(c, `token-validity:${clientAddress(c)}`, c.get("config").rateLimits.registrationPerAddress);
    const [row] = await c.get("database").db.select().from(registrationTokens).where(eq(registrationTokens.token, token));
    const valid =
      row !== undefined &&
      (row.expiryTime === null || row.expiryTime > Date.now()) &&
      (row.usesAllowed === null || row.pending + row.completed < row.usesAllowed);
    return c.json({ valid });
  });
}
