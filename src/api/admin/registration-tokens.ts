/**
 * Registration tokens admin API, as Synapse's `/_synapse/admin/v1/registration_tokens`: the tokens that
 * the `m.login.registration_token` stage accepts when REGISTRATION_REQUIRES_TOKEN is on.
 */
import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { randomString } from "../../core/crypto/secrets";
import { registrationTokens } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { invalidParam, notFound } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { requireAdmin } from "./admin-auth";

type TokenRow = typeof registrationTokens.$inferSelect;

const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";

function formatToken(row: TokenRow): Record<string, unknown> {
  return {
    token: row.token,
    uses_allowed: row.usesAllowed,
    pending: row.pending,
    completed: row.completed,
    expiry_time: row.expiryTime,
  };
}

const nonNegativeInteger = z.number().int().nonnegative();
const createSchema = z.object({
  token: z.string().min(1).max(64).regex(/^[A-Za-z0-9._~-]+$/).optional(),
  uses_allowed: nonNegativeInteger.nullable().optional(),
  expiry_time: nonNegativeInteger.nullable().optional(),
  length: z.number().int().min(1).max(64).optional(),
});
const updateSchema = z.object({
  uses_allowed: nonNegativeInteger.nullable().optional(),
  expiry_time: nonNegativeInteger.nullable().optional(),
});

function isValid(row: TokenRow, now: number): boolean {
  const unexpired = row.expiryTime === null || row.expiryTime > now;
  const usesLeft = row.usesAllowed === null || row.pending + row.completed < row.usesAllowed;
  return unexpired && usesLeft;
}

export function registerRegistrationTokenRoutes(admin: Hono<AppEnv>): void {
  admin.get("/v1/registration_tokens", requireAdmin, async (c) => {
    const rows = await c.get("database").db.select().from(registrationTokens);
    const validFilter = c.req.query("valid");
    const now = Date.now();
    const selected =
      validFilter === undefined ? rows : rows.filter((row) => isValid(row, now) === (validFilter === "true"));
    return c.json({ registration_tokens: selected.map(formatToken) });
  });

  admin.post("/v1/registration_tokens/new", requireAdmin, async (c) => {
    const body = await readJsonBody(c, createSchema, true);
    if (body.expiry_time != null && body.expiry_time <= Date.now()) throw invalidParam("expiry_time is in the past");
    const token = body.token ?? randomString(body.length ?? 16, TOKEN_ALPHABET);
    const [row] = await c
      .get("database")
      .db.insert(registrationTokens)
      .values({ token, usesAllowed: body.uses_allowed ?? null, expiryTime: body.expiry_time ?? null })
      .onConflictDoNothing()
      .returning();
    if (!row) throw invalidParam(`Token already exists: ${token}`);
    return c.json(formatToken(row));
  });

  admin.get("/v1/registration_tokens/:token", requireAdmin, async (c) => {
    const [row] = await c
      .get("database")
      .db.select()
      .from(registrationTokens)
      .where(eq(registrationTokens.token, c.req.param("token")));
    if (!row) throw notFound("No such registration token");
    return c.json(formatToken(row));
  });

  admin.put("/v1/registration_tokens/:token", requireAdmin, async (c) => {
    const body = await readJsonBody(c, updateSchema, true);
    const changes: Partial<TokenRow> = {};
    if (body.uses_allowed !== undefined) changes.usesAllowed = body.uses_allowed;
    if (body.expiry_time !== undefined) changes.expiryTime = body.expiry_time;
    const db = c.get("database").db;
    const where = eq(registrationTokens.token, c.req.param("token"));
    const [row] =
      Object.keys(changes).length === 0
        ? await db.select().from(registrationTokens).where(where)
        : await db.update(registrationTokens).set(changes).where(where).returning();
    if (!row) throw notFound("No such registration token");
    return c.json(formatToken(row));
  });

  admin.delete("/v1/registration_tokens/:token", requireAdmin, async (c) => {
    const deleted = await c
      .get("database")
      .db.delete(registrationTokens)
      .where(eq(registrationTokens.token, c.req.param("token")))
      .returning();
    if (deleted.length === 0) throw notFound("No such registration token");
    return c.json({});
  });
}
