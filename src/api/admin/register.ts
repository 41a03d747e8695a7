/**
 * Synapse's shared-secret registration (`/_synapse/admin/v1/register`), so that existing tools such as
 * `register_new_matrix_user` work: a one-use nonce, then an HMAC-SHA1 over
 * nonce NUL username NUL password NUL ("admin" | "notadmin") [NUL user_type], keyed with the shared secret.
 */
import { eq, lt } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { startSession } from "../../accounts/sessions";
import { assertRegistrableLocalpart, userIdFor } from "../../accounts/usernames";
import { createUser } from "../../accounts/users";
import { hashPassword } from "../../core/crypto/password-hash";
import { constantTimeEqualStrings, hmacHex, randomString } from "../../core/crypto/secrets";
import { sharedSecretNonces } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { MatrixError, forbidden } from "../../http/errors";
import { parseWithSchema, readJsonObject } from "../../http/request-body";
import { assertAcceptablePassword } from "../client-server/register";

const NONCE_LIFETIME_MS = 60_000;

const sharedSecretRegisterSchema = z.object({
  nonce: z.string(),
  username: z.string(),
  password: z.string(),
  mac: z.string(),
  admin: z.boolean().optional(),
  displayname: z.string().optional(),
  user_type: z.string().nullable().optional(),
});

export function sharedSecretMacMessage(fields: {
  nonce: string;
  username: string;
  password: string;
  admin: boolean;
  userType?: string | null;
}): string {
  const parts = [fields.nonce, fields.username, fields.password, fields.admin ? "admin" : "notadmin"];
  if (fields.userType) parts.push(fields.userType);
  return parts.join("\x00");
}

export function registerSharedSecretRoutes(admin: Hono<AppEnv>): void {
  const secretOrRefuse = (secret: string | undefined): string => {
    if (secret === undefined) throw new MatrixError(400, "M_UNKNOWN", "Shared secret registration is not enabled");
    return secret;
  };

  admin.get("/v1/register", async (c) => {
    secretOrRefuse(c.get("config").registrationSharedSecret);
    const db = c.get("database").db;
    const now = Date.now();
    await db.delete(sharedSecretNonces).where(lt(sharedSecretNonces.createdTs, now - NONCE_LIFETIME_MS));
    const nonce = randomString(32);
    await db.insert(sharedSecretNonces).values({ nonce, createdTs: now });
    return c.json({ nonce });
  });

  admin.post("/v1/register", async (c) => {
    const config = c.get("config");
    const secret = secretOrRefuse(config.registrationSharedSecret);
    const body = parseWithSchema(sharedSecretRegisterSchema, await readJsonObject(c));
    const db = c.get("database").db;
    const [nonce] = await db.delete(sharedSecretNonces).where(eq(sharedSecretNonces.nonce, body.nonce)).returning();
    if (!nonce || nonce.createdTs < Date.now() - NONCE_LIFETIME_MS) {
      throw new MatrixError(400, "M_UNKNOWN", "unrecognised nonce");
    }
    const expected = await hmacHex(
      "SHA-1",
      secret,
      sharedSecretMacMessage({ ...body, admin: body.admin ?? false, userType: body.user_type }),
    );
    if (!constantTimeEqualStrings(expected, body.mac.toLowerCase())) throw forbidden("HMAC incorrect");

    const localpart = body.username.toLowerCase();
    assertRegistrableLocalpart(localpart, config.serverName);
    assertAcceptablePassword(body.password, 0);
    const userId = userIdFor(localpart, config.serverName);
    await createUser(db, {
      userId,
      passwordHash: await hashPassword(body.password),
      admin: body.admin ?? false,
      userType: body.user_type ?? null,
      displayName: body.displayname,
    });
    const session = await startSession(c, userId, {});
    return c.json({ ...session, home_server: config.serverName });
  });
}
