/**
 * Reading a room's history and members (spec: "Getting events for a room", "Event context"):
 * /messages, /context/{eventId}, /event/{eventId}, /members, /joined_members. History visibility is
 * applied by the room.
 */
import type { Context, Hono } from "hono";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { invalidParam } from "../../http/errors";
import { parseRoomEventFilter } from "../../rooms/event-filter";
import { decodeRoomToken, encodeRoomToken } from "../../rooms/pagination-token";
import { unwrapRoomResult } from "../../rooms/room-rpc";
import { requireRoomId, roomRequester, roomStub } from "../../rooms/room-stub";

const MAX_LIMIT = 1000;
const MEMBERSHIPS = new Set(["join", "invite", "knock", "leave", "ban"]);

function parseLimit(c: Context<AppEnv>, fallback: number): number {
  const text = c.req.query("limit");
  if (text === undefined || text === "") return fallback;
  if (!/^[0-9]+$/.test(text)) throw invalidParam("limit must be a non-negative integer");
  return Math.min(Number(text), MAX_LIMIT);
}

function optionalToken(c: Context<AppEnv>, name: string): number | undefined {
  const token = c.req.query(name);
  return token === undefined || token === "" ? undefined : decodeRoomToken(token, name);
}

function optionalMembership(c: Context<AppEnv>, name: string): string | undefined {
  const value = c.req.query(name);
  if (value === undefined || value === "") return undefined;
  if (!MEMBERSHIPS.has(value)) throw invalidParam(`${name} must be one of join, invite, knock, leave, ban`);
  return value;
}

export function registerRoomHistoryRoutes(client: Hono<AppEnv>): void {
  client.get("/rooms/:roomId/messages", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    // The spec requires `dir`; Synapse defaults it to forwards, and so do we for lenient clients.
    const direction = c.req.query("dir") ?? "f";
    if (direction !== "b" && direction !== "f") throw invalidParam("dir must be 'b' or 'f'");
    const from = optionalToken(c, "from");
    const to = optionalToken(c, "to");
    const page = unwrapRoomResult(
      await roomStub(c, roomId).getMessages({
        roomId,
        requester: roomRequester(c),
        direction,
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        limit: parseLimit(c, 10),
        filter: parseRoomEventFilter(c.req.query("filter")),
      }),
    );
    return c.json({
      chunk: page.chunk,
      start: encodeRoomToken(page.start),
      ...(page.end !== undefined ? { end: encodeRoomToken(page.end) } : {}),
      ...(page.state.length > 0 ? { state: page.state } : {}),
    });
  });

  client.get("/rooms/:roomId/context/:eventId", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const context = unwrapRoomResult(
      await roomStub(c, roomId).getContext({
        roomId,
        requester: roomRequester(c),
        eventId: c.req.param("eventId"),
        limit: parseLimit(c, 10),
        filter: parseRoomEventFilter(c.req.query("filter")),
      }),
    );
    return c.json({
      event: context.event,
      events_before: context.eventsBefore,
      events_after: context.eventsAfter,
      start: encodeRoomToken(context.start),
      end: encodeRoomToken(context.end),
      state: context.state,
    });
  });

  client.get("/rooms/:roomId/event/:eventId", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    return c.json(unwrapRoomResult(await roomStub(c, roomId).getEvent(roomId, roomRequester(c), c.req.param("eventId"))));
  });

  client.get("/rooms/:roomId/members", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const at = optionalToken(c, "at");
    const membership = optionalMembership(c, "membership");
    const notMembership = optionalMembership(c, "not_membership");
    const chunk = unwrapRoomResult(
      await roomStub(c, roomId).getMembers({
        roomId,
        requester: roomRequester(c),
        ...(at !== undefined ? { at } : {}),
        ...(membership !== undefined ? { membership } : {}),
        ...(notMembership !== undefined ? { notMembership } : {}),
      }),
    );
    return c.json({ chunk });
  });

  client.get("/rooms/:roomId/joined_members", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    return c.json({ joined: unwrapRoomResult(await roomStub(c, roomId).getJoinedMembers(roomId, roomRequester(c))) });
  });
}
