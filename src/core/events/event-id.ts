/**
 * Event IDs and v12 room IDs.
 *
 * - v1/v2: `$opaque:server`, chosen by the origin server and carried in the PDU.
 * - v3: `$` + standard unpadded base64 of the reference hash.
 * - v4+: `$` + URL-safe unpadded base64 of the reference hash.
 * - v12 room IDs: the create event's event ID with `!` instead of `$`.
 */
import { encodeBase64, encodeBase64Url } from "../crypto/base64";
import type { RoomVersion } from "../room-versions";
import { computeReferenceHash } from "./hashing";
import type { JsonObject, PDU } from "./pdu";

export class EventIdError extends Error {
  override readonly name = "EventIdError";
}

/**
 * The event ID of a v3+ event. `event_id` is ignored if present: in these versions
 * the ID is not part of the event (it cannot be part of its own hash), and some
 * servers attach it for convenience.
 * Throws EventIdError for v1/v2 (use getEventId) and CanonicalJsonError for unencodable events.
 */
export function computeEventId(pdu: PDU | JsonObject, roomVersion: RoomVersion): string {
  if (roomVersion.eventIdFormat === "v1") {
    throw new EventIdError(`room version ${roomVersion.id} event IDs are assigned by the origin server, not computed`);
  }
  const { event_id: _eventId, ...withoutEventId } = pdu as Record<string, unknown>;
  const hash = computeReferenceHash(withoutEventId as JsonObject, roomVersion);
  return roomVersion.eventIdFormat === "v3" ? `$${encodeBase64(hash)}` : `$${encodeBase64Url(hash)}`;
}

/** The ID an event is known by: carried `event_id` for v1/v2, reference hash otherwise. */
export function getEventId(pdu: PDU | JsonObject, roomVersion: RoomVersion): string {
  if (roomVersion.eventIdFormat === "v1") {
    const eventId: unknown = (pdu as Record<string, unknown>)["event_id"];
    if (typeof eventId !== "string") {
      throw new EventIdError(`room version ${roomVersion.id} events must carry an event_id`);
    }
    return eventId;
  }
  return computeEventId(pdu, roomVersion);
}

const LEGACY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LEGACY_ID_LENGTH = 18; // ~107 bits of randomness

/** Random alphanumeric string (rejection sampling keeps it unbiased). */
export function randomAlphanumeric(length: number): string {
  let out = "";
  // 248 = 4 * 62: bytes at or above it would bias the modulo.
  const limit = 248;
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit) out += LEGACY_ID_ALPHABET[byte % 62]!;
      if (out.length === length) break;
    }
  }
  return out;
}

/** A fresh `$random:server` event ID for room versions 1 and 2. */
export function generateLegacyEventId(serverName: string): string {
  return `$${randomAlphanumeric(LEGACY_ID_LENGTH)}:${serverName}`;
}

/**
 * The room ID defined by a v12 m.room.create event: `!` + URL-safe base64 of its
 * reference hash. The create event must not itself carry a room_id (v12 auth rule 1.2).
 */
export function computeRoomIdFromCreateEvent(createEvent: PDU | JsonObject, roomVersion: RoomVersion): string {
  if (!roomVersion.roomIdFromCreateEvent) {
    throw new EventIdError(`room version ${roomVersion.id} room IDs are not derived from the create event`);
  }
  const fields = createEvent as Record<string, unknown>;
  if (fields["type"] !== "m.room.create") {
    throw new EventIdError("a room ID can only be derived from an m.room.create event");
  }
  if (fields["room_id"] !== undefined) {
    throw new EventIdError(`room version ${roomVersion.id} m.room.create events must not have a room_id`);
  }
  return `!${computeEventId(createEvent, roomVersion).slice(1)}`;
}

/** v12: the event ID of the create event a room ID was derived from. */
export function createEventIdFromRoomId(roomId: string): string {
  if (!roomId.startsWith("!")) throw new EventIdError(`not a room ID: ${roomId}`);
  return `$${roomId.slice(1)}`;
}
