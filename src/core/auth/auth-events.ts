/**
 * Which state events an event cites as its `auth_events` (the "auth events selection"
 * of the server-server spec), and reading event references off PDUs.
 */
import type { EventReference, JsonObject, JsonValue, PDU } from "../events/pdu";
import type { RoomVersion } from "../room-versions";
import { stateTupleKey, type StateTupleKey } from "./state-map";

/** A `(type, state_key)` pair naming a piece of room state. */
export type AuthEventKey = readonly [type: string, stateKey: string];

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The `(type, state_key)` pairs whose current state events must be cited as the
 * `auth_events` of a new event (each only if the room has such an event). Also the
 * complete set of keys an event may cite: anything else is rejected by the auth rules.
 *
 * - v1-v11: the m.room.create event. v12: never, the room ID names it instead.
 * - m.room.power_levels, and the sender's m.room.member.
 * - For m.room.member: the target's membership; m.room.join_rules for join, invite and
 *   knock; for third-party invites the m.room.third_party_invite named by
 *   `content.third_party_invite.signed.token`; for joins to restricted rooms (v8+) the
 *   membership of `content.join_authorised_via_users_server`.
 */
export function selectAuthEventKeys(
  eventType: string,
  sender: string,
  stateKey: string | undefined,
  content: JsonObject,
  roomVersion: RoomVersion,
): AuthEventKey[] {
  if (eventType === "m.room.create") return [];
  const keys: AuthEventKey[] = [];
  const seen = new Set<StateTupleKey>();
  const add = (type: string, key: string): void => {
    const tuple = stateTupleKey(type, key);
    if (seen.has(tuple)) return;
    seen.add(tuple);
    keys.push([type, key]);
  };

  if (!roomVersion.roomIdFromCreateEvent) add("m.room.create", "");
  add("m.room.power_levels", "");
  add("m.room.member", sender);

  if (eventType === "m.room.member" && stateKey !== undefined) {
    const membership = content["membership"];
    add("m.room.member", stateKey);
    if (membership === "join" || membership === "invite" || membership === "knock") {
      add("m.room.join_rules", "");
    }
    if (membership === "invite") {
      const thirdPartyInvite = content["third_party_invite"];
      const signed = isJsonObject(thirdPartyInvite) ? thirdPartyInvite["signed"] : undefined;
      const token = isJsonObject(signed) ? signed["token"] : undefined;
      if (typeof token === "string") add("m.room.third_party_invite", token);
    }
    if (membership === "join" && roomVersion.restrictedJoinRule) {
      const authoriser = content["join_authorised_via_users_server"];
      if (typeof authoriser === "string") add("m.room.member", authoriser);
    }
  }
  return keys;
}

/** {@link selectAuthEventKeys} for an existing PDU. */
export function authEventKeysForEvent(pdu: PDU, roomVersion: RoomVersion): AuthEventKey[] {
  return selectAuthEventKeys(pdu.type, pdu.sender, pdu.state_key, pdu.content, roomVersion);
}

/** The event ID in an event reference (`$id` in v3+, `[$id, hashes]` in v1/v2). */
export function referencedEventId(reference: EventReference): string {
  return typeof reference === "string" ? reference : reference[0];
}

export function getPrevEventIds(pdu: PDU): string[] {
  return pdu.prev_events.map(referencedEventId);
}

/** v12: the room ID is the create event's ID with the `!` sigil instead of `$`. */
export function createEventIdFromRoomId(roomId: string): string {
  return `$${roomId.slice(1)}`;
}

/** v12: the room ID of the room a create event with this ID creates. */
export function roomIdFromCreateEventId(createEventId: string): string {
  return `!${createEventId.slice(1)}`;
}

/**
 * The events whose state authorised `pdu`, as graph edges: its `auth_events`, plus in
 * v12 the create event its room ID names (v12 events must not cite it explicitly, but
 * it still authorises them, so auth chains and state resolution must reach it).
 */
export function getAuthEventIds(pdu: PDU, roomVersion: RoomVersion): string[] {
  const ids = pdu.auth_events.map(referencedEventId);
  if (roomVersion.roomIdFromCreateEvent && pdu.room_id !== undefined && pdu.type !== "m.room.create") {
    const createEventId = createEventIdFromRoomId(pdu.room_id);
    if (!ids.includes(createEventId)) ids.push(createEventId);
  }
  return ids;
}
