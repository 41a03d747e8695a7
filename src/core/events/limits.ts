/**
 * Event size limits (client-server API, "Size limits"): the whole event in
 * federation format, signatures included, must fit in 65536 bytes of canonical
 * JSON, and some identifier fields in 255 bytes each.
 */
import { CanonicalJsonError, canonicalJsonBytes } from "../canonical-json";
import { MAX_IDENTIFIER_BYTES, utf8ByteLength } from "../identifiers";
import type { RoomVersion } from "../room-versions";
import { canonicalJsonOptionsFor } from "./hashing";
import type { JsonObject, PDU } from "./pdu";

export const MAX_PDU_BYTES = 65536;
export const MAX_EVENT_FIELD_BYTES = MAX_IDENTIFIER_BYTES;

/** Fields with a 255-byte limit (user ID, room ID and event ID limits are all 255 bytes too). */
export const SIZE_LIMITED_EVENT_FIELDS = ["sender", "room_id", "state_key", "type", "event_id"] as const;

/**
 * Describes the first size limit the event breaks, or returns null if it is within
 * all of them. Pass the event exactly as it would be sent over federation (with
 * signatures). Also reports events that are not encodable as canonical JSON, since
 * their size cannot be measured.
 */
export function checkPduSizeLimits(pdu: PDU | JsonObject, roomVersion?: RoomVersion): string | null {
  const fields = pdu as Record<string, unknown>;
  for (const field of SIZE_LIMITED_EVENT_FIELDS) {
    const value = fields[field];
    if (typeof value === "string" && utf8ByteLength(value) > MAX_EVENT_FIELD_BYTES) {
      return `${field} is longer than ${MAX_EVENT_FIELD_BYTES} bytes`;
    }
  }
  let size: number;
  try {
    size = canonicalJsonBytes(pdu, canonicalJsonOptionsFor(roomVersion)).length;
  } catch (error) {
    if (error instanceof CanonicalJsonError) return `event is not valid canonical JSON: ${error.message}`;
    throw error;
  }
  if (size > MAX_PDU_BYTES) {
    return `event is ${size} bytes of canonical JSON, more than the limit of ${MAX_PDU_BYTES}`;
  }
  return null;
}
