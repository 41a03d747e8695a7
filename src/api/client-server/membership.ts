/**
 * Room membership (spec: "Room membership"): joining, knocking, leaving, forgetting, inviting, kicking,
 * banning and unbanning, and GET /joined_rooms from the Postgres membership index.
 */
import { and, asc, eq } from "drizzle-orm";
import type { Context, Hono } from "hono";
import { z } from "zod";
import { readMemberProfile } from "../../accounts/profiles";
import { isValidUserId } from "../../core/identifiers";
import { roomMemberships } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { invalidParam } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { unwrapRoomResult, type MembershipAction } from "../../rooms/room-rpc";
import { requireRoomId, roomRequester, roomStub } from "../../rooms/room-stub";
import { resolveRoomIdOrAlias } from "./room-aliases";

const reasonSchema = z.object({ reason: z.string().optional() });
// third_party_signed (joins through a third-party invite) needs an identity server and is not supported; it is ignored.
const joinSchema = z.object({ reason: z.string().optional(), third_party_signed: z.unknown().optional() });
const targetSchema = z.object({ user_id: z.string(), reason: z.string().optional() });

async function changeMembership(
  c: Context<AppEnv>,
  roomId: string,
  action: MembershipAction,
  target: string,
  reason: string | undefined,
): Promise<string> {
  const config = c.get("config");
  const localTarget = target.slice(target.indexOf(":") + 1) === config.serverName;
  const withProfile = (action === "join" || action === "knock" || action === "invite") && localTarget;
  const profile = withProfile ? await readMemberProfile(c.get("database").db, target) : undefined;
  const result = await roomStub(c, roomId).changeMembership({
    roomId,
    requester: roomRequester(c),
    action,
    target,
    ...(reason !== undefined ? { reason } : {}),
    ...(profile !== undefined ? { profile } : {}),
  });
  return unwrapRoomResult(result).eventId;
}

function requireUserId(value: string): string {
  if (!isValidUserId(value)) throw invalidParam(`Invalid user_id: ${value}`);
  return value;
}

export function registerMembershipRoutes(client: Hono<AppEnv>): void {
  client.post("/join/:roomIdOrAlias", requireAuth, async (c) => {
    const roomId = await resolveRoomIdOrAlias(c.get("database").db, c.req.param("roomIdOrAlias"));
    const body = await readJsonBody(c, joinSchema, true);
    await changeMembership(c, roomId, "join", c.get("requester").userId, body.reason);
    return c.json({ room_id: roomId });
  });

  // Without federation only rooms of this server can be knocked on, so `via`/`server_name` have nothing to add.
  client.post("/knock/:roomIdOrAlias", requireAuth, async (c) => {
    const roomId = await resolveRoomIdOrAlias(c.get("database").db, c.req.param("roomIdOrAlias"));
    const body = await readJsonBody(c, reasonSchema, true);
    await changeMembership(c, roomId, "knock", c.get("requester").userId, body.reason);
    return c.json({ room_id: roomId });
  });

  client.post("/rooms/:roomId/join", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const body = await readJsonBody(c, joinSchema, true);
    await changeMembership(c, roomId, "join", c.get("requester").userId, body.reason);
    return c.json({ room_id: roomId });
  });

  client.post("/rooms/:roomId/leave", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const body = await readJsonBody(c, reasonSchema, true);
    await changeMembership(c, roomId, "leave", c.get("requester").userId, body.reason);
    return c.json({});
  });

  client.post("/rooms/:roomId/forget", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    unwrapRoomResult(await roomStub(c, roomId).forget(roomId, c.get("requester").userId));
    return c.json({});
  });

  for (const action of ["invite", "kick", "ban", "unban"] as const) {
    client.post(`/rooms/:roomId/${action}`, requireAuth, async (c) => {
      const roomId = requireRoomId(c.req.param("roomId"));
      const body = await readJsonBody(c, targetSchema);
      await changeMembership(c, roomId, action, requireUserId(body.user_id), body.reason);
      return c.json({});
    });
  }

  client.get("/joined_rooms", requireAuth, async (c) => {
    const rows = await c
      .get("database")
      .db.select({ roomId: roomMemberships.roomId })
      .from(roomMemberships)
      .where(and(eq(roomMemberships.userId, c.get("requester").userId), eq(roomMemberships.membership, "join")))
      .orderBy(asc(roomMemberships.updatedTs));
    return c.json({ joined_rooms: rows.map((row) => row.roomId) });
  });
}
