/**
 * Sending events and reading state (spec: "Sending events to a room", "Getting events for a room"
 * state endpoints, "Redactions"): PUT /send, GET/PUT /state, PUT /redact.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { JsonObject } from "../../core/events/pdu";
import { isValidEventId, isValidUserId } from "../../core/identifiers";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { badJson, invalidParam } from "../../http/errors";
import { readJsonBody, readJsonObject } from "../../http/request-body";
import { unwrapRoomResult, type SendEventInput } from "../../rooms/room-rpc";
import { requireRoomId, roomRequester, roomStub } from "../../rooms/room-stub";
import { validateCanonicalAliasContent } from "./room-aliases";

const redactSchema = z.object({ reason: z.string().optional() });

async function readContent(c: Context<AppEnv>): Promise<JsonObject> {
  // Parsed from JSON text, so it is JSON; canonical JSON rules are checked when the event is built.
  return (await readJsonObject(c)) as JsonObject;
}

async function sendToRoom(c: Context<AppEnv>, input: SendEventInput): Promise<string> {
  return unwrapRoomResult(await roomStub(c, input.roomId).sendEvent(input)).eventId;
}

async function putState(c: Context<AppEnv>, stateKey: string) {
  const roomId = requireRoomId(c.req.param("roomId"));
  const eventType = c.req.param("eventType") ?? "";
  const content = await readContent(c);
  if (eventType === "m.room.member" && !isValidUserId(stateKey)) {
    throw invalidParam("The state_key of a membership event must be a user ID");
  }
  const requester = roomRequester(c);
  if (eventType === "m.room.canonical_alias" && stateKey === "") {
    const current = await roomStub(c, roomId).getStateEvent(roomId, requester, eventType, "");
    await validateCanonicalAliasContent(c.get("database").db, roomId, content, current.ok ? current.value.content : undefined);
  }
  const eventId = await sendToRoom(c, { roomId, requester, type: eventType, stateKey, content });
  return c.json({ event_id: eventId });
}

async function getState(c: Context<AppEnv>, stateKey: string) {
  const roomId = requireRoomId(c.req.param("roomId"));
  const eventType = c.req.param("eventType") ?? "";
  const format = c.req.query("format") ?? "content";
  if (format !== "content" && format !== "event") throw invalidParam("format must be 'content' or 'event'");
  const event = unwrapRoomResult(await roomStub(c, roomId).getStateEvent(roomId, roomRequester(c), eventType, stateKey));
  return c.json(format === "event" ? event : event.content);
}

export function registerRoomEventRoutes(client: Hono<AppEnv>): void {
  client.put("/rooms/:roomId/send/:eventType/:txnId", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const type = c.req.param("eventType");
    const content = await readContent(c);
    const input: SendEventInput = { roomId, requester: roomRequester(c), type, content, txnId: c.req.param("txnId") };
    if (type === "m.room.redaction") {
      // A redaction sent as a plain event must go through the redaction checks.
      const redacts = content["redacts"];
      if (typeof redacts !== "string" || !isValidEventId(redacts)) throw badJson("m.room.redaction events need content.redacts");
      input.redacts = redacts;
    }
    return c.json({ event_id: await sendToRoom(c, input) });
  });

  client.put("/rooms/:roomId/state/:eventType", requireAuth, (c) => putState(c, ""));
  client.put("/rooms/:roomId/state/:eventType/:stateKey{.*}", requireAuth, (c) => putState(c, c.req.param("stateKey")));

  client.get("/rooms/:roomId/state", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    return c.json(unwrapRoomResult(await roomStub(c, roomId).getState(roomId, roomRequester(c))));
  });
  client.get("/rooms/:roomId/state/:eventType", requireAuth, (c) => getState(c, ""));
  client.get("/rooms/:roomId/state/:eventType/:stateKey{.*}", requireAuth, (c) => getState(c, c.req.param("stateKey")));

  client.put("/rooms/:roomId/redact/:eventId/:txnId", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const redacts = c.req.param("eventId");
    if (!isValidEventId(redacts)) throw invalidParam(`Invalid event ID: ${redacts}`);
    const body = await readJsonBody(c, redactSchema, true);
    const content: JsonObject = body.reason !== undefined ? { reason: body.reason } : {};
    const eventId = await sendToRoom(c, { roomId, requester: roomRequester(c), type: "m.room.redaction", content, redacts, txnId: c.req.param("txnId") });
    return c.json({ event_id: eventId });
  });
}
