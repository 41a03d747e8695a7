/**
 * Building the events this server creates: the PDU fields a room version requires, `prev_events` and
 * `auth_events` references, depth, the content hash and this server's signature. The Room Durable
 * Object builds every local event through here (and createRoom builds the create event through here
 * before the room exists), so a unit test of this module tests exactly what goes out to other servers.
 */
import { selectAuthEventKeys } from "../core/auth/auth-events";
import type { StateLookup } from "../core/auth/state-map";
import { encodeCanonicalJson, CanonicalJsonError } from "../core/canonical-json";
import { encodeBase64 } from "../core/crypto/base64";
import type { SigningKey } from "../core/crypto/ed25519";
import { generateLegacyEventId, getEventId } from "../core/events/event-id";
import { canonicalJsonOptionsFor, computeReferenceHash } from "../core/events/hashing";
import { checkPduSizeLimits } from "../core/events/limits";
import type { EventReference, JsonObject, PDU, StoredEvent } from "../core/events/pdu";
import { hashAndSignEvent } from "../core/events/signing";
import type { RoomVersion } from "../core/room-versions";
import { MatrixError, badJson } from "../http/errors";

/** What a local user asks for: everything about an event that is not its place in the room graph. */
export interface EventDraft {
  type: string;
  sender: string;
  /** Present for state events (possibly the empty string). */
  stateKey?: string;
  content: JsonObject;
  /** The event a redaction redacts; top-level `redacts` in room versions 1-10, `content.redacts` from 11. */
  redacts?: string;
}

/** Where an event goes in the room graph. */
export interface EventPosition {
  /** Absent only for the m.room.create event of room version 12, whose ID defines the room ID. */
  roomId: string | undefined;
  prevEvents: readonly StoredEvent[];
  authEvents: readonly StoredEvent[];
  originServerTs: number;
}

/** The server identity events are signed with. */
export interface ServerIdentity {
  serverName: string;
  signingKey: SigningKey;
}

/** The spec's depth limit (v6+): depth stays at 2^53 - 1 once reached. */
const MAX_DEPTH = Number.MAX_SAFE_INTEGER;

/** How an event is referenced from a later event: by ID from v3, by ID and reference hash in v1/v2. */
export function eventReference(event: StoredEvent, roomVersion: RoomVersion): EventReference {
  if (roomVersion.eventIdFormat !== "v1") return event.eventId;
  return [event.eventId, { sha256: encodeBase64(computeReferenceHash(event.pdu, roomVersion)) }];
}

/** The auth events a new event cites: the auth events selection applied to the room's state. */
export function selectAuthEvents(draft: EventDraft, state: StateLookup, roomVersion: RoomVersion): StoredEvent[] {
  const selected: StoredEvent[] = [];
  for (const [type, stateKey] of selectAuthEventKeys(draft.type, draft.sender, draft.stateKey, draft.content, roomVersion)) {
    const event = state(type, stateKey);
    if (event !== undefined) selected.push(event);
  }
  return selected;
}

/**
 * Rejects content the room version cannot carry, before any hashing: floats, non-finite numbers and
 * (v6+) integers outside the canonical JSON range are M_BAD_JSON, as in Synapse.
 */
export function assertEncodableContent(content: JsonObject, roomVersion: RoomVersion): void {
  try {
    encodeCanonicalJson(content, canonicalJsonOptionsFor(roomVersion));
  } catch (error) {
    if (error instanceof CanonicalJsonError) throw badJson(`Event content is not valid canonical JSON: ${error.message}`);
    throw error;
  }
}

/**
 * Builds, hashes and signs a local event. Throws M_BAD_JSON for content that is not canonical JSON and
 * M_TOO_LARGE for an event over the spec's size limits (measured on the signed PDU, as federation sees it).
 */
export async function buildLocalEvent(
  draft: EventDraft,
  position: EventPosition,
  roomVersion: RoomVersion,
  server: ServerIdentity,
): Promise<StoredEvent> {
  const content =
    draft.redacts !== undefined && roomVersion.updatedRedactionRules ? { ...draft.content, redacts: draft.redacts } : draft.content;
  assertEncodableContent(content, roomVersion);
  const depth = Math.min(MAX_DEPTH, Math.max(0, ...position.prevEvents.map((event) => event.pdu.depth)) + 1);
  const unsigned: PDU = {
    sender: draft.sender,
    origin_server_ts: position.originServerTs,
    type: draft.type,
    content,
    prev_events: position.prevEvents.map((event) => eventReference(event, roomVersion)),
    auth_events: position.authEvents.map((event) => eventReference(event, roomVersion)),
    depth,
    hashes: { sha256: "" },
    signatures: {},
  };
  if (position.roomId !== undefined) unsigned.room_id = position.roomId;
  if (draft.stateKey !== undefined) unsigned.state_key = draft.stateKey;
  if (draft.redacts !== undefined && !roomVersion.updatedRedactionRules) unsigned.redacts = draft.redacts;
  // v1/v2 event IDs are chosen by the origin server and are part of the signed event.
  if (roomVersion.eventIdFormat === "v1") unsigned.event_id = generateLegacyEventId(server.serverName);

  const pdu = await hashAndSignEvent(unsigned, server.serverName, server.signingKey, roomVersion);
  const sizeProblem = checkPduSizeLimits(pdu, roomVersion);
  if (sizeProblem !== null) throw new MatrixError(413, "M_TOO_LARGE", `Event too large: ${sizeProblem}`);
  return { eventId: getEventId(pdu, roomVersion), pdu };
}
