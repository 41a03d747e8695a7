/** User profiles (spec: "Profiles"): displayname, avatar_url, m.tz and custom fields. */
import type { Context, Hono } from "hono";
import { memberProfileOf, readProfile, updateProfileField } from "../../accounts/profiles";
import { findUser } from "../../accounts/users";
import { encodeCanonicalJson } from "../../core/canonical-json";
import type { JsonObject } from "../../core/events/pdu";
import { parseUserId } from "../../core/identifiers";
import { and, eq } from "drizzle-orm";
import { roomMemberships } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import { roomRequester, roomStub } from "../../rooms/room-stub";
import type { AppEnv } from "../../http/context";
import { MatrixError, badJson, forbidden, invalidParam, missingParam, notFound } from "../../http/errors";
import { readJsonObject } from "../../http/request-body";

/** The spec's limits: the whole profile under 64 KiB, keys at most 255 bytes. */
const MAX_PROFILE_BYTES = 64 * 1024;
const MAX_KEY_BYTES = 255;
const KEY_NAME = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;
const encoder = new TextEncoder();

function profileKey(c: Context<AppEnv>): string {
  const key = c.req.param("keyName") ?? "";
  if (encoder.encode(key).length > MAX_KEY_BYTES) {
    throw new MatrixError(400, "M_KEY_TOO_LARGE", `Profile keys are at most ${MAX_KEY_BYTES} bytes`);
  }
  if (!KEY_NAME.test(key)) throw invalidParam(`Invalid profile key: ${key}`);
  return key;
}

/** The profile of a local, active user; 404 otherwise (remote profiles need federation). */
async function profileOf(c: Context<AppEnv>, userId: string): Promise<JsonObject> {
  const parsed = parseUserId(userId);
  if (parsed === null) throw invalidParam(`Invalid user ID: ${userId}`);
  const db = c.get("database").db;
  if (parsed.serverName !== c.get("config").serverName) throw notFound("Profile not found");
  const account = await findUser(db, userId);
  if (!account || account.deactivated) throw notFound("Profile not found");
  return (await readProfile(db, userId)) ?? {};
}

function ownProfile(c: Context<AppEnv>): string {
  const userId = c.req.param("userId") ?? "";
  if (userId !== c.get("requester").userId) throw forbidden("Cannot change another user's profile");
  return userId;
}

function checkFieldValue(key: string, value: unknown): void {
  if (key === "displayname" && typeof value !== "string") throw badJson("displayname must be a string");
  if (key === "avatar_url" && (typeof value !== "string" || !value.startsWith("mxc://"))) {
    throw badJson("avatar_url must be an mxc:// URI");
  }
  if (key === "m.tz" && typeof value !== "string") throw badJson("m.tz must be a string");
}

/**
 * A new display name or avatar goes into the user's member event of every room they are in, as the
 * spec's profile section describes. A room that refuses (e.g. power levels) keeps the old one.
 */
async function propagateToRooms(c: Context<AppEnv>, userId: string, profile: JsonObject): Promise<void> {
  const rooms = await c
    .get("database")
    .db.select({ roomId: roomMemberships.roomId })
    .from(roomMemberships)
    .where(and(eq(roomMemberships.userId, userId), eq(roomMemberships.membership, "join")));
  const memberProfile = memberProfileOf(profile);
  const requester = roomRequester(c);
  await Promise.all(
    rooms.map(async ({ roomId }) => {
      const result = await roomStub(c, roomId).changeMembership({
        roomId,
        requester,
        action: "join",
        target: userId,
        profile: memberProfile,
      });
      if (!result.ok) console.warn(`profile change not applied in ${roomId}: ${result.failure.error}`);
    }),
  );
}

const MEMBER_EVENT_FIELDS = new Set(["displayname", "avatar_url"]);

function checkProfileSize(profile: JsonObject): void {
  if (encoder.encode(encodeCanonicalJson(profile, { strict: false })).length > MAX_PROFILE_BYTES) {
    throw new MatrixError(400, "M_PROFILE_TOO_LARGE", "The profile would exceed 64 KiB");
  }
}

export function registerProfileRoutes(client: Hono<AppEnv>): void {
  client.get("/profile/:userId", async (c) => c.json(await profileOf(c, c.req.param("userId"))));

  client.get("/profile/:userId/:keyName", async (c) => {
    const key = profileKey(c);
    const profile = await profileOf(c, c.req.param("userId"));
    if (!(key in profile)) throw notFound(`No ${key} in this profile`);
    return c.json({ [key]: profile[key] ?? null });
  });

  client.put("/profile/:userId/:keyName", requireAuth, async (c) => {
    const userId = ownProfile(c);
    const key = profileKey(c);
    const body = await readJsonObject(c);
    if (!(key in body)) throw missingParam(`Missing parameter: ${key}`);
    const value = body[key] as JsonObject[string];
    checkFieldValue(key, value);
    const profile = await updateProfileField(c.get("database").db, userId, key, value, checkProfileSize);
    if (MEMBER_EVENT_FIELDS.has(key)) await propagateToRooms(c, userId, profile);
    return c.json({});
  });

  client.delete("/profile/:userId/:keyName", requireAuth, async (c) => {
    const userId = ownProfile(c);
    const key = profileKey(c);
    const profile = await updateProfileField(c.get("database").db, userId, key, undefined, checkProfileSize);
    if (MEMBER_EVENT_FIELDS.has(key)) await propagateToRooms(c, userId, profile);
    return c.json({});
  });
}
