/**
 * State resolution v1 (room version 1).
 *
 * Known to reset state in some situations (which is why v2 replaced it), but room
 * version 1 rooms must still resolve state exactly this way to agree with other servers.
 * Ordering and fallbacks follow the spec text and Synapse's behaviour: conflicted power
 * levels first, then join rules, then memberships (each key separately), each by
 * replaying the candidates from lowest depth / highest sha1(event_id) while they pass the
 * auth rules; then every other key takes the highest-depth / lowest-sha1 candidate that
 * passes the auth rules (or, if none does, the last candidate tried).
 */
import { sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { StoredEvent } from "../events/pdu";
import type { RoomVersion } from "../room-versions";
import { authEventKeysForEvent } from "../auth/auth-events";
import { authorizeEvent, type AuthorizeOptions } from "../auth/auth-rules";
import { parseStateTupleKey, stateTupleKey, type ReadonlyStateMap, type StateMap, type StateTupleKey } from "../auth/state-map";
import { EventCache, type EventSource } from "./v2";

export interface SeparatedStateV1 {
  readonly unconflicted: StateMap<string>;
  readonly conflicted: Map<StateTupleKey, Set<string>>;
}

/**
 * v1's split: a key is conflicted only when two state sets give it different events;
 * a key missing from some sets is not a conflict (the union is taken).
 */
export function separateStateSetsV1(stateSets: readonly ReadonlyStateMap<string>[]): SeparatedStateV1 {
  const unconflicted: StateMap<string> = new Map();
  const conflicted = new Map<StateTupleKey, Set<string>>();
  for (const stateSet of stateSets) {
    for (const [key, eventId] of stateSet) {
      const existingConflict = conflicted.get(key);
      if (existingConflict !== undefined) {
        existingConflict.add(eventId);
        continue;
      }
      const current = unconflicted.get(key);
      if (current === undefined) unconflicted.set(key, eventId);
      else if (current !== eventId) {
        unconflicted.delete(key);
        conflicted.set(key, new Set([current, eventId]));
      }
    }
  }
  return { unconflicted, conflicted };
}

function sha1Hex(eventId: string): string {
  return bytesToHex(sha1(utf8ToBytes(eventId)));
}

/** Highest depth first, then lowest sha1(event_id) first. */
function orderedByDepthDescending(events: readonly StoredEvent[]): StoredEvent[] {
  const hashes = new Map(events.map((event) => [event.eventId, sha1Hex(event.eventId)]));
  return [...events].sort((a, b) => {
    if (a.pdu.depth !== b.pdu.depth) return b.pdu.depth - a.pdu.depth;
    const x = hashes.get(a.eventId) ?? "";
    const y = hashes.get(b.eventId) ?? "";
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function passesAuth(event: StoredEvent, authState: ReadonlyMap<StateTupleKey, StoredEvent>, roomVersion: RoomVersion, options: AuthorizeOptions): boolean {
  return authorizeEvent(event.pdu, (type, stateKey) => authState.get(stateTupleKey(type, stateKey)), roomVersion, options).allowed;
}

/** Replays candidates from lowest depth; stops at the first that fails auth. */
function resolveAuthKey(
  candidates: readonly StoredEvent[],
  authState: ReadonlyMap<StateTupleKey, StoredEvent>,
  roomVersion: RoomVersion,
  options: AuthorizeOptions,
): StoredEvent {
  const replayOrder = orderedByDepthDescending(candidates).reverse();
  const neededKeys = new Set<StateTupleKey>();
  for (const event of candidates) {
    for (const [type, key] of authEventKeysForEvent(event.pdu, roomVersion)) neededKeys.add(stateTupleKey(type, key));
  }
  const state = new Map<StateTupleKey, StoredEvent>();
  for (const key of neededKeys) {
    const event = authState.get(key);
    if (event !== undefined) state.set(key, event);
  }

  let accepted = replayOrder[0];
  if (accepted === undefined) throw new Error("no candidates to resolve");
  for (const event of replayOrder.slice(1)) {
    const previousKey = accepted.pdu.state_key === undefined ? undefined : stateTupleKey(accepted.pdu.type, accepted.pdu.state_key);
    if (previousKey !== undefined) state.set(previousKey, accepted);
    if (!passesAuth(event, state, roomVersion, options)) return accepted;
    accepted = event;
  }
  return accepted;
}

function resolveOrdinaryKey(
  candidates: readonly StoredEvent[],
  authState: ReadonlyMap<StateTupleKey, StoredEvent>,
  roomVersion: RoomVersion,
  options: AuthorizeOptions,
): StoredEvent {
  const ordered = orderedByDepthDescending(candidates);
  for (const event of ordered) if (passesAuth(event, authState, roomVersion, options)) return event;
  const last = ordered[ordered.length - 1];
  if (last === undefined) throw new Error("no candidates to resolve");
  return last;
}

/** Resolves state sets with the room version 1 algorithm. Unknown events are left out. */
export async function resolveStateV1(
  stateSets: readonly ReadonlyStateMap<string>[],
  source: EventSource | EventCache,
  roomVersion: RoomVersion,
  options: AuthorizeOptions = {},
): Promise<StateMap<string>> {
  const cache = source instanceof EventCache ? source : new EventCache(source);
  const { unconflicted, conflicted } = separateStateSetsV1(stateSets);
  if (conflicted.size === 0) return unconflicted;

  const conflictedEvents = new Map<StateTupleKey, StoredEvent[]>();
  for (const [key, ids] of conflicted) {
    await cache.load(ids);
    const events = [...ids].map((id) => cache.get(id)).filter((event): event is StoredEvent => event !== undefined);
    const [only] = events;
    if (events.length > 1) conflictedEvents.set(key, events);
    else if (only !== undefined) unconflicted.set(key, only.eventId);
  }

  // The auth state comes from the unconflicted state, for the keys the conflicted events need.
  const authState = new Map<StateTupleKey, StoredEvent>();
  for (const events of conflictedEvents.values()) {
    for (const event of events) {
      const keys = authEventKeysForEvent(event.pdu, roomVersion).map(([type, key]) => stateTupleKey(type, key));
      for (const key of keys) {
        const eventId = unconflicted.get(key);
        if (eventId === undefined || authState.has(key)) continue;
        const authEvent = await cache.fetch(eventId);
        if (authEvent !== undefined) authState.set(key, authEvent);
      }
    }
  }

  const resolved = new Map<StateTupleKey, StoredEvent>();
  const resolveAuthKeysWhere = (matches: (type: string, stateKey: string) => boolean): void => {
    for (const [key, events] of conflictedEvents) {
      if (resolved.has(key) || !matches(...parseStateTupleKey(key))) continue;
      resolved.set(key, resolveAuthKey(events, authState, roomVersion, options));
    }
    for (const [key, event] of resolved) authState.set(key, event);
  };
  resolveAuthKeysWhere((type, stateKey) => type === "m.room.power_levels" && stateKey === "");
  resolveAuthKeysWhere((type) => type === "m.room.join_rules");
  resolveAuthKeysWhere((type) => type === "m.room.member");
  for (const [key, events] of conflictedEvents) {
    if (!resolved.has(key)) resolved.set(key, resolveOrdinaryKey(events, authState, roomVersion, options));
  }

  const result: StateMap<string> = new Map(unconflicted);
  for (const [key, event] of resolved) result.set(key, event.eventId);
  return result;
}
