/**
 * Events as clients see them (client-server API, "Room Event Format" / ClientEvent): the PDU without
 * its federation fields (hashes, signatures, graph references), plus `event_id`, `room_id` and the
 * `unsigned` data the server computes when it serves the event.
 */
import type { JsonObject, PDU } from "../core/events/pdu";
import type { RoomVersion } from "../core/room-versions";

export interface UnsignedData {
  age?: number;
  prev_content?: JsonObject;
  /** Not in the spec's UnsignedData, but sent by Synapse and read by clients to render state changes. */
  prev_sender?: string;
  replaces_state?: string;
  redacted_because?: ClientEvent;
  transaction_id?: string;
}

export interface ClientEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  content: JsonObject;
  origin_server_ts: number;
  state_key?: string;
  redacts?: string;
  unsigned?: UnsignedData;
}

/** What the room knows about a stored event when it serves it. */
export interface ServedEvent {
  eventId: string;
  roomId: string;
  /** The event as stored: already redacted if a redaction applies to it. */
  pdu: PDU;
  /** The state event this one replaced, as stored. */
  replacedState?: { eventId: string; pdu: PDU };
  /** The redaction that redacted this event, already in client format. */
  redactedBecause?: ClientEvent;
  /** The transaction ID, when the event is served to the device that sent it. */
  transactionId?: string;
}

/** The event a redaction redacts, wherever its room version keeps it. */
export function redactedEventId(pdu: PDU): string | undefined {
  if (typeof pdu.redacts === "string") return pdu.redacts;
  const inContent = pdu.content["redacts"];
  return typeof inContent === "string" ? inContent : undefined;
}

export function toClientEvent(event: ServedEvent, roomVersion: RoomVersion, now: number): ClientEvent {
  const { pdu } = event;
  const clientEvent: ClientEvent = {
    event_id: event.eventId,
    // v12 create events carry no room_id; clients still need one.
    room_id: event.roomId,
    sender: pdu.sender,
    type: pdu.type,
    content: pdu.content,
    origin_server_ts: pdu.origin_server_ts,
  };
  if (pdu.state_key !== undefined) clientEvent.state_key = pdu.state_key;
  if (pdu.type === "m.room.redaction") {
    // The redacted event ID lives at the top level before v11 and in content from v11; as Synapse
    // does, serve it in both places so clients written for either layout find it.
    const redacts = redactedEventId(pdu);
    if (redacts !== undefined) {
      clientEvent.redacts = redacts;
      if (!roomVersion.updatedRedactionRules && event.redactedBecause === undefined) {
        clientEvent.content = { ...pdu.content, redacts };
      }
    }
  }
  const unsigned: UnsignedData = { age: Math.max(0, now - pdu.origin_server_ts) };
  if (event.replacedState !== undefined) {
    unsigned.prev_content = event.replacedState.pdu.content;
    unsigned.prev_sender = event.replacedState.pdu.sender;
    unsigned.replaces_state = event.replacedState.eventId;
  }
  if (event.redactedBecause !== undefined) unsigned.redacted_because = event.redactedBecause;
  if (event.transactionId !== undefined) unsigned.transaction_id = event.transactionId;
  clientEvent.unsigned = unsigned;
  return clientEvent;
}
