/**
 * Receipts and read markers (spec: "Receipts", "Fully read markers"). Receipts live in the room's
 * Durable Object; the fully-read marker is the user's `m.fully_read` room account data.
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { writeAccountData } from "../../accounts/account-data";
import { isValidEventId } from "../../core/identifiers";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { unwrapRoomResult } from "../../rooms/room-rpc";
import { requireRoomId, roomRequester, roomStub } from "../../rooms/room-stub";

const receiptSchema = z.looseObject({ thread_id: z.string().min(1).optional() });
const readMarkersSchema = z.object({
  "m.fully_read": z.string().optional(),
  "m.read": z.string().optional(),
  "m.read.private": z.string().optional(),
});

function requireEventId(value: string | undefined): string {
  if (value === undefined || !isValidEventId(value)) throw invalidParam(`Invalid event ID: ${value ?? ""}`);
  return value;
}

async function postReceipt(
  c: Context<AppEnv>,
  roomId: string,
  receiptType: "m.read" | "m.read.private",
  eventId: string,
  threadId?: string,
): Promise<void> {
  unwrapRoomResult(
    await roomStub(c, roomId).postReceipt({
      roomId,
      requester: roomRequester(c),
      receiptType,
      eventId,
      ...(threadId !== undefined ? { threadId } : {}),
    }),
  );
}

async function setFullyRead(c: Context<AppEnv>, roomId: string, eventId: string): Promise<void> {
  // The marker must point at an event the user can see in this room: the room checks, as for a receipt.
  const room = roomStub(c, roomId);
  unwrapRoomResult(await room.getEvent(roomId, roomRequester(c), eventId));
  await writeAccountData(c, c.get("requester").userId, roomId, "m.fully_read", { event_id: eventId });
}

export function registerReceiptRoutes(client: Hono<AppEnv>): void {
  client.post("/rooms/:roomId/receipt/:receiptType/:eventId", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const eventId = requireEventId(c.req.param("eventId"));
    const receiptType = c.req.param("receiptType");
    const body = await readJsonBody(c, receiptSchema, true);
    if (receiptType === "m.fully_read") {
      if (body.thread_id !== undefined) throw invalidParam("m.fully_read cannot be threaded");
      await setFullyRead(c, roomId, eventId);
    } else if (receiptType === "m.read" || receiptType === "m.read.private") {
      await postReceipt(c, roomId, receiptType, eventId, body.thread_id);
    } else {
      throw new MatrixError(400, "M_INVALID_PARAM", `Unknown receipt type: ${receiptType}`);
    }
    return c.json({});
  });

  client.post("/rooms/:roomId/read_markers", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const body = await readJsonBody(c, readMarkersSchema, true);
    if (body["m.read"] !== undefined) await postReceipt(c, roomId, "m.read", requireEventId(body["m.read"]));
    if (body["m.read.private"] !== undefined) {
      await postReceipt(c, roomId, "m.read.private", requireEventId(body["m.read.private"]));
    }
    if (body["m.fully_read"] !== undefined) await setFullyRead(c, roomId, requireEventId(body["m.fully_read"]));
    return c.json({});
  });
}
