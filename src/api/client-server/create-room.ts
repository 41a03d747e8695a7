/** Room creation (spec: "Creation", POST /createRoom). */
import { eq } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { computeRoomIdFromCreateEvent, randomAlphanumeric } from "../../core/events/event-id";
import type { JsonObject } from "../../core/events/pdu";
import { getRoomVersion } from "../../core/room-versions";
import { roomAliases, rooms } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import { readMemberProfile } from "../../accounts/profiles";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { buildLocalEvent } from "../../rooms/event-builder";
import { ROOM_PRESETS, planRoomCreation } from "../../rooms/room-creation";
import { unwrapRoomResult } from "../../rooms/room-rpc";
import { roomStub } from "../../rooms/room-stub";
import { serverIdentity } from "../../rooms/signing-key";
import { validateCanonicalAliasContent } from "./room-aliases";

/** Parsed request JSON is JSON: objects from it can be used as event content as they are. */
const jsonObject = z.record(z.string(), z.unknown()).transform((value) => value as JsonObject);

const createRoomSchema = z.object({
  visibility: z.enum(["public", "private"]).optional(),
  room_alias_name: z.string().optional(),
  name: z.string().optional(),
  topic: z.string().optional(),
  invite: z.array(z.string()).optional(),
  invite_3pid: z.array(z.unknown()).optional(),
  room_version: z.string().optional(),
  creation_content: jsonObject.optional(),
  initial_state: z.array(z.object({ type: z.string(), state_key: z.string().optional(), content: jsonObject })).optional(),
  preset: z.enum(ROOM_PRESETS).optional(),
  is_direct: z.boolean().optional(),
  power_level_content_override: jsonObject.optional(),
});

/** Synapse's room IDs: 18 random letters and digits, then this server's name. */
const ROOM_ID_LOCALPART_LENGTH = 18;

export function registerCreateRoomRoutes(client: Hono<AppEnv>): void {
  client.post("/createRoom", requireAuth, async (c) => {
    const requester = c.get("requester");
    if (requester.isGuest) throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access not allowed");
    const body = await readJsonBody(c, createRoomSchema);
    const config = c.get("config");
    const roomVersion = getRoomVersion(body.room_version ?? config.defaultRoomVersion);
    if (roomVersion === undefined) {
      throw new MatrixError(400, "M_UNSUPPORTED_ROOM_VERSION", "Your homeserver does not support this room version");
    }
    if ((body.invite_3pid ?? []).length > 0) throw invalidParam("Third-party invites (invite_3pid) are not supported by this server");

    const plan = planRoomCreation({
      creator: requester.userId,
      creatorProfile: { ...(await readMemberProfile(c.get("database").db, requester.userId)) },
      serverName: config.serverName,
      roomVersion,
      visibility: body.visibility ?? "private",
      ...(body.preset !== undefined ? { preset: body.preset } : {}),
      ...(body.room_alias_name !== undefined ? { aliasLocalpart: body.room_alias_name } : {}),
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.topic !== undefined ? { topic: body.topic } : {}),
      invite: body.invite ?? [],
      isDirect: body.is_direct ?? false,
      initialState: (body.initial_state ?? []).map((event) => ({ type: event.type, stateKey: event.state_key ?? "", content: event.content })),
      ...(body.power_level_content_override !== undefined ? { powerLevelContentOverride: body.power_level_content_override } : {}),
      creationContent: body.creation_content ?? {},
    });

    const db = c.get("database").db;
    if (plan.alias !== undefined) {
      const [taken] = await db.select({ alias: roomAliases.alias }).from(roomAliases).where(eq(roomAliases.alias, plan.alias));
      if (taken !== undefined) throw new MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken");
    }

    // The create event is built here because a v12 room ID is its reference hash: the room's Durable
    // Object cannot be addressed before the event exists.
    const legacyRoomId = roomVersion.roomIdFromCreateEvent
      ? undefined
      : `!${randomAlphanumeric(ROOM_ID_LOCALPART_LENGTH)}:${config.serverName}`;
    const createEvent = await buildLocalEvent(
      { type: "m.room.create", sender: requester.userId, stateKey: "", content: plan.createContent },
      { roomId: legacyRoomId, prevEvents: [], authEvents: [], originServerTs: Date.now() },
      roomVersion,
      await serverIdentity(config),
    );
    const roomId = legacyRoomId ?? computeRoomIdFromCreateEvent(createEvent.pdu, roomVersion);

    // The alias exists before the room's canonical alias event names it.
    if (plan.alias !== undefined) {
      const inserted = await db
        .insert(roomAliases)
        .values({ alias: plan.alias, roomId, creator: requester.userId, createdTs: Date.now() })
        .onConflictDoNothing()
        .returning({ alias: roomAliases.alias });
      if (inserted.length === 0) throw new MatrixError(400, "M_ROOM_IN_USE", "Room alias already taken");
    }
    try {
      for (const event of plan.events) {
        if (event.type === "m.room.canonical_alias" && event.stateKey === "") {
          await validateCanonicalAliasContent(db, roomId, event.content, undefined);
        }
      }
      unwrapRoomResult(
        await roomStub(c, roomId).createRoom({ roomId, roomVersion: roomVersion.id, createEvent: createEvent.pdu, events: plan.events }),
      );
    } catch (error) {
      if (plan.alias !== undefined) await db.delete(roomAliases).where(eq(roomAliases.alias, plan.alias));
      throw error;
    }
    await db
      .insert(rooms)
      .values({ roomId, roomVersion: roomVersion.id, creator: requester.userId, isPublic: plan.isPublic, createdTs: Date.now() });
    return c.json({ room_id: roomId, ...(plan.alias !== undefined ? { room_alias: plan.alias } : {}) });
  });
}
