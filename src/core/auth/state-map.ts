/**
 * Room state keyed by `(event_type, state_key)`.
 *
 * The pair is encoded as the JSON text of `[type, state_key]` so that it can key an
 * ordinary `Map` without any separator character being ambiguous (both halves are
 * arbitrary strings).
 */
import type { PDU, StoredEvent } from "../events/pdu";

/** `JSON.stringify([type, stateKey])`; build it with {@link stateTupleKey}. */
export type StateTupleKey = string & { readonly __brand: "StateTupleKey" };

/** Room state: `(type, state_key)` -> value (usually an event ID or a {@link StoredEvent}). */
export type StateMap<T> = Map<StateTupleKey, T>;
export type ReadonlyStateMap<T> = ReadonlyMap<StateTupleKey, T>;

/** Looks up the event currently holding `(type, stateKey)` in some room state. */
export type StateLookup = (type: string, stateKey: string) => StoredEvent | undefined;

export function stateTupleKey(type: string, stateKey: string): StateTupleKey {
  return JSON.stringify([type, stateKey]) as StateTupleKey;
}

export function parseStateTupleKey(key: StateTupleKey): [type: string, stateKey: string] {
  const parsed: unknown = JSON.parse(key);
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== "string" ||
    typeof parsed[1] !== "string"
  ) {
    throw new Error(`not a state tuple key: ${key}`);
  }
  return [parsed[0], parsed[1]];
}

/** The state key of a state event, or undefined for a message event. */
export function stateTupleKeyOf(pdu: PDU): StateTupleKey | undefined {
  return pdu.state_key === undefined ? undefined : stateTupleKey(pdu.type, pdu.state_key);
}

/** A {@link StateLookup} over a state map of stored events. */
export function lookupInStateMap(state: ReadonlyStateMap<StoredEvent>): StateLookup {
  return (type, stateKey) => state.get(stateTupleKey(type, stateKey));
}

/**
 * A {@link StateLookup} over a list of events (e.g. an event's resolved `auth_events`).
 * Non-state events are ignored; for duplicate keys the last one wins (duplicates are
 * rejected separately by the auth rules).
 */
export function lookupInEvents(events: Iterable<StoredEvent>): StateLookup {
  const byKey: StateMap<StoredEvent> = new Map();
  for (const event of events) {
    const key = stateTupleKeyOf(event.pdu);
    if (key !== undefined) byKey.set(key, event);
  }
  return lookupInStateMap(byKey);
}
