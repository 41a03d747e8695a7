/**
 * The persistent data unit (PDU): a room event as it is hashed, signed, stored and federated.
 * Field presence differs by room version; see room-versions.ts.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** v1/v2 rooms reference events as `[event_id, {sha256: hash}]`; v3+ by event ID alone. */
export type EventReference = string | [string, { sha256?: string }];

export interface PDU {
  /** Absent only from the m.room.create event of room version 12, whose event ID defines the room ID. */
  room_id?: string;
  sender: string;
  origin_server_ts: number;
  type: string;
  state_key?: string;
  content: JsonObject;
  prev_events: EventReference[];
  auth_events: EventReference[];
  depth: number;
  hashes: { sha256: string };
  signatures: Record<string, Record<string, string>>;
  unsigned?: JsonObject;
  /** Top-level for redactions in v1-v10; in `content.redacts` from v11. */
  redacts?: string;
  /** Present only in v1/v2 events, whose event IDs are chosen by the origin server. */
  event_id?: string;
  /** Legacy fields some servers still send; kept only where a room version's redaction keeps them. */
  origin?: string;
  membership?: string;
  prev_state?: EventReference[];
}

/** A PDU together with the event ID it is known by (computed for v3+, carried for v1/v2). */
export interface StoredEvent {
  eventId: string;
  pdu: PDU;
}
