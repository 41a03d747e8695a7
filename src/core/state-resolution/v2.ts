/**
 * State resolution v2 (room versions 2-11) and v2.1 (room version 12).
 *
 * Pure apart from reading events through an {@link EventSource}, which may be
 * synchronous or asynchronous. The pieces of the algorithm are exported separately so
 * they can be tested and reused.
 *
 * v2.1 differs from v2 in two places (room version 12, MSC4297): the full conflicted set
 * also contains the *conflicted state subgraph* (every event on an auth-event path
 * between two conflicted events), and the first iterative auth checks start from an
 * empty state instead of the unconflicted state, so state is rebuilt only from events
 * the conflicted events actually cite.
 */
import type { PDU, StoredEvent } from "../events/pdu";
import type { RoomVersion } from "../room-versions";
import { authEventKeysForEvent, getAuthEventIds } from "../auth/auth-events";
import { authorizeEvent, type AuthorizeOptions } from "../auth/auth-rules";
import { userPowerLevelFrom } from "../auth/power-levels";
import {
  stateTupleKey,
  stateTupleKeyOf,
  type ReadonlyStateMap,
  type StateLookup,
  type StateMap,
  type StateTupleKey,
} from "../auth/state-map";

type MaybePromise<T> = T | Promise<T>;

/** Where state resolution reads events from. */
export interface EventSource {
  /** The event with this ID, rejected or not; undefined if it is unknown. */
  getEvent(eventId: string): MaybePromise<StoredEvent | undefined>;
  /** Optional batch form of {@link getEvent}, used when walking auth chains. */
  getEvents?(eventIds: readonly string[]): MaybePromise<Iterable<StoredEvent>>;
  /**
   * Whether the event was rejected. Rejected events are never used as auth events
   * during the iterative auth checks (as the spec requires); events rejected only
   * because of the state before them are otherwise treated like any other event.
   * Defaults to "nothing is rejected".
   */
  isRejected?(eventId: string): MaybePromise<boolean>;
}

export type StateResolutionOptions = AuthorizeOptions;

/** Compares strings by Unicode code point, as the spec (and Python) order event IDs. */
export function compareByCodePoint(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++; // skip the low surrogate of an astral character
  }
  return a.length - b.length;
}

/** Loads events once per resolution, in batches where the source allows it. */
export class EventCache {
  private readonly events = new Map<string, StoredEvent | undefined>();
  private readonly rejected = new Map<string, boolean>();

  constructor(private readonly source: EventSource) {}

  async load(eventIds: Iterable<string>): Promise<void> {
    const missing = [...new Set(eventIds)].filter((id) => !this.events.has(id));
    if (missing.length === 0) return;
    if (this.source.getEvents !== undefined) {
      const found = await this.source.getEvents(missing);
      for (const event of found) this.events.set(event.eventId, event);
      for (const id of missing) if (!this.events.has(id)) this.events.set(id, undefined);
    } else {
      const found = await Promise.all(missing.map((id) => this.source.getEvent(id)));
      missing.forEach((id, i) => this.events.set(id, found[i]));
    }
  }

  /** An event already loaded with {@link load}. */
  get(eventId: string): StoredEvent | undefined {
    return this.events.get(eventId);
  }

  async fetch(eventId: string): Promise<StoredEvent | undefined> {
    await this.load([eventId]);
    return this.get(eventId);
  }

  async isRejected(eventId: string): Promise<boolean> {
    const known = this.rejected.get(eventId);
    if (known !== undefined) return known;
    const rejected = this.source.isRejected === undefined ? false : await this.source.isRejected(eventId);
    this.rejected.set(eventId, rejected);
    return rejected;
  }
}

// ---------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------

export interface SeparatedState {
  /** Keys present in every state set with the same event. */
  readonly unconflicted: StateMap<string>;
  /** Every other key, with the events the state sets give it (missing in some sets counts as a conflict). */
  readonly conflicted: Map<StateTupleKey, Set<string>>;
}

/** Splits state sets into the unconflicted state map and the conflicted state set. */
export function separateStateSets(stateSets: readonly ReadonlyStateMap<string>[]): SeparatedState {
  const unconflicted: StateMap<string> = new Map();
  const conflicted = new Map<StateTupleKey, Set<string>>();
  const allKeys = new Set<StateTupleKey>();
  for (const stateSet of stateSets) for (const key of stateSet.keys()) allKeys.add(key);
  for (const key of allKeys) {
    const eventIds = new Set<string>();
    let missingSomewhere = false;
    for (const stateSet of stateSets) {
      const eventId = stateSet.get(key);
      if (eventId === undefined) missingSomewhere = true;
      else eventIds.add(eventId);
    }
    const [only] = eventIds;
    if (!missingSomewhere && eventIds.size === 1 && only !== undefined) unconflicted.set(key, only);
    else conflicted.set(key, eventIds);
  }
  return { unconflicted, conflicted };
}

/**
 * Power events: power levels, join rules, and kicks/bans (leave or ban memberships set
 * by someone other than the target). The create event is included too, as Synapse and
 * Ruma do: it can only be conflicted in a broken room, and then it must sort first.
 */
export function isPowerEvent(pdu: PDU): boolean {
  if (pdu.state_key === undefined) return false;
  if (pdu.state_key === "" && (pdu.type === "m.room.power_levels" || pdu.type === "m.room.join_rules" || pdu.type === "m.room.create")) {
    return true;
  }
  if (pdu.type === "m.room.member") {
    const membership = pdu.content["membership"];
    return (membership === "leave" || membership === "ban") && pdu.sender !== pdu.state_key;
  }
  return false;
}

/**
 * The auth chain of a set of events: every event reachable through auth event edges,
 * not including the starting events themselves unless another start reaches them.
 * Unknown events end the walk.
 */
export async function authChainOf(
  startIds: Iterable<string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<Set<string>> {
  const chain = new Set<string>();
  let frontier = [...new Set(startIds)];
  while (frontier.length > 0) {
    await cache.load(frontier);
    const next: string[] = [];
    for (const id of frontier) {
      const event = cache.get(id);
      if (event === undefined) continue;
      for (const authId of getAuthEventIds(event.pdu, roomVersion)) {
        if (!chain.has(authId)) {
          chain.add(authId);
          next.push(authId);
        }
      }
    }
    frontier = next;
  }
  // Every ID in the chain has been through a frontier, so it is loaded (or known missing).
  for (const id of chain) if (cache.get(id) === undefined) chain.delete(id);
  return chain;
}

/** The auth difference: events in some but not all of the state sets' full auth chains. */
export async function authDifference(
  stateSets: readonly ReadonlyStateMap<string>[],
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<Set<string>> {
  const chains = await Promise.all(stateSets.map((stateSet) => authChainOf(stateSet.values(), cache, roomVersion)));
  const union = new Set<string>();
  for (const chain of chains) for (const id of chain) union.add(id);
  const difference = new Set<string>();
  for (const id of union) if (!chains.every((chain) => chain.has(id))) difference.add(id);
  return difference;
}

/**
 * v2.1: the conflicted state subgraph — events lying on an auth-event path from one
 * conflicted event to another, endpoints included. These are the events reachable from
 * a conflicted event (following auth events) from which a conflicted event is reachable.
 */
export async function conflictedStateSubgraph(
  conflictedEventIds: ReadonlySet<string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<Set<string>> {
  const reachableFromConflicted = await authChainOf(conflictedEventIds, cache, roomVersion);
  const candidates = new Set([...reachableFromConflicted, ...conflictedEventIds]);

  // Reverse edges inside the candidates: event -> the candidates citing it.
  const citedBy = new Map<string, string[]>();
  for (const id of candidates) {
    const event = cache.get(id);
    if (event === undefined) continue;
    for (const authId of getAuthEventIds(event.pdu, roomVersion)) {
      if (!candidates.has(authId)) continue;
      const citing = citedBy.get(authId);
      if (citing === undefined) citedBy.set(authId, [id]);
      else citing.push(id);
    }
  }

  // Walk from the conflicted events towards the events citing them, staying within
  // the candidates: whatever is reached has a path down to a conflicted event.
  const canReachConflicted = new Set<string>(conflictedEventIds);
  const stack = [...conflictedEventIds];
  while (stack.length > 0) {
    const id = stack.pop();
    if (id === undefined) break;
    for (const citing of citedBy.get(id) ?? []) {
      if (!canReachConflicted.has(citing)) {
        canReachConflicted.add(citing);
        stack.push(citing);
      }
    }
  }

  const subgraph = new Set<string>(conflictedEventIds);
  for (const id of reachableFromConflicted) if (canReachConflicted.has(id)) subgraph.add(id);
  return subgraph;
}

// ---------------------------------------------------------------------------
// Orderings
// ---------------------------------------------------------------------------

/** A binary min-heap under a comparison function. */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i] as T, items[parent] as T) >= 0) break;
      [items[i], items[parent]] = [items[parent] as T, items[i] as T];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.compare(items[left] as T, items[smallest] as T) < 0) smallest = left;
      if (right < items.length && this.compare(items[right] as T, items[smallest] as T) < 0) smallest = right;
      if (smallest === i) break;
      [items[i], items[smallest]] = [items[smallest] as T, items[i] as T];
      i = smallest;
    }
    return top;
  }
}

/**
 * Kahn's algorithm on a graph given as node -> the nodes it depends on (its auth events
 * within the graph), emitting dependencies first and, among the nodes ready at each
 * step, the smallest under `compare`. Dependencies outside the graph are ignored.
 * Nodes on a dependency cycle (impossible with hash-based event IDs, conceivable with
 * forged v1/v2 IDs) are never ready and are left out, as Synapse leaves them out.
 */
export function lexicographicalTopologicalSort(
  dependencies: ReadonlyMap<string, ReadonlySet<string>>,
  compare: (a: string, b: string) => number,
): string[] {
  const remaining = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  const ready = new MinHeap<string>(compare);
  for (const [node, deps] of dependencies) {
    let count = 0;
    for (const dep of deps) {
      if (!dependencies.has(dep) || dep === node) continue;
      count++;
      const list = dependents.get(dep);
      if (list === undefined) dependents.set(dep, [node]);
      else list.push(node);
    }
    remaining.set(node, count);
    if (count === 0) ready.push(node);
  }
  const order: string[] = [];
  while (ready.size > 0) {
    const node = ready.pop();
    if (node === undefined) break;
    order.push(node);
    for (const dependent of dependents.get(node) ?? []) {
      const left = (remaining.get(dependent) ?? 0) - 1;
      remaining.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  return order;
}

/** The state event among `pdu`'s auth events with this key, if loaded. */
function authEventWithKey(pdu: PDU, type: string, stateKey: string, cache: EventCache, roomVersion: RoomVersion): StoredEvent | undefined {
  let found: StoredEvent | undefined;
  for (const id of getAuthEventIds(pdu, roomVersion)) {
    const event = cache.get(id);
    if (event !== undefined && event.pdu.type === type && event.pdu.state_key === stateKey) found = event;
  }
  return found;
}

/** The sender's power level according to the event's own auth events. */
export async function senderPowerLevelFromAuthEvents(event: StoredEvent, cache: EventCache, roomVersion: RoomVersion): Promise<number> {
  await cache.load(getAuthEventIds(event.pdu, roomVersion));
  const create = authEventWithKey(event.pdu, "m.room.create", "", cache, roomVersion);
  const powerLevels = authEventWithKey(event.pdu, "m.room.power_levels", "", cache, roomVersion);
  return userPowerLevelFrom(event.pdu.sender, create?.pdu, powerLevels?.pdu, roomVersion);
}

/**
 * The reverse topological power ordering of `eventIds` together with their auth
 * ancestors inside `fullConflictedSet`: auth events first; among ready events, higher
 * sender power level first, then earlier origin_server_ts, then smaller event ID.
 *
 * Ancestors are collected by walking auth events only while they stay inside the full
 * conflicted set (as Synapse does).
 */
export async function reverseTopologicalPowerOrder(
  eventIds: Iterable<string>,
  fullConflictedSet: ReadonlySet<string>,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<string[]> {
  const graph = new Map<string, Set<string>>();
  const stack = [...eventIds];
  while (stack.length > 0) {
    const id = stack.pop();
    if (id === undefined) break;
    if (graph.has(id)) continue;
    const event = await cache.fetch(id);
    const deps = new Set<string>();
    graph.set(id, deps);
    if (event === undefined) continue;
    for (const authId of getAuthEventIds(event.pdu, roomVersion)) {
      if (!fullConflictedSet.has(authId)) continue;
      deps.add(authId);
      if (!graph.has(authId)) stack.push(authId);
    }
  }

  const sortKeys = new Map<string, { powerLevel: number; ts: number }>();
  for (const id of graph.keys()) {
    const event = cache.get(id);
    sortKeys.set(id, {
      powerLevel: event === undefined ? 0 : await senderPowerLevelFromAuthEvents(event, cache, roomVersion),
      ts: event?.pdu.origin_server_ts ?? 0,
    });
  }
  return lexicographicalTopologicalSort(graph, (a, b) => {
    const x = sortKeys.get(a);
    const y = sortKeys.get(b);
    if (x !== undefined && y !== undefined) {
      if (x.powerLevel !== y.powerLevel) return x.powerLevel > y.powerLevel ? -1 : 1;
      if (x.ts !== y.ts) return x.ts - y.ts;
    }
    return compareByCodePoint(a, b);
  });
}

/**
 * Orders `eventIds` by mainline position relative to the power levels event
 * `powerLevelsEventId` (earlier mainline position first, i.e. events authorised by older
 * power levels first), then origin_server_ts, then event ID.
 */
export async function mainlineOrder(
  eventIds: readonly string[],
  powerLevelsEventId: string | undefined,
  cache: EventCache,
  roomVersion: RoomVersion,
): Promise<string[]> {
  if (eventIds.length === 0) return [];

  const powerLevelsCitedBy = async (id: string): Promise<string | undefined> => {
    const event = await cache.fetch(id);
    if (event === undefined) return undefined;
    await cache.load(getAuthEventIds(event.pdu, roomVersion));
    return authEventWithKey(event.pdu, "m.room.power_levels", "", cache, roomVersion)?.eventId;
  };

  // Mainline index i of P_i, where P_0 is the resolved power levels event.
  const mainlineIndex = new Map<string, number>();
  for (let id = powerLevelsEventId, i = 0; id !== undefined && !mainlineIndex.has(id); i++) {
    mainlineIndex.set(id, i);
    id = await powerLevelsCitedBy(id);
  }

  // Position of an event: index of the first power levels event in its chain (not the
  // event itself) that is on the mainline; Infinity if none is.
  const positionOfPowerLevels = new Map<string, number>();
  const positionOf = async (id: string): Promise<number> => {
    const walked: string[] = [];
    let position = Number.POSITIVE_INFINITY;
    for (let current = await powerLevelsCitedBy(id); current !== undefined; current = await powerLevelsCitedBy(current)) {
      const known = mainlineIndex.get(current) ?? positionOfPowerLevels.get(current);
      if (known !== undefined) {
        position = known;
        break;
      }
      if (walked.includes(current)) break;
      walked.push(current);
    }
    for (const pl of walked) positionOfPowerLevels.set(pl, position);
    return position;
  };

  const keys = new Map<string, { position: number; ts: number }>();
  for (const id of eventIds) {
    keys.set(id, { position: await positionOf(id), ts: (await cache.fetch(id))?.pdu.origin_server_ts ?? 0 });
  }
  return [...eventIds].sort((a, b) => {
    const x = keys.get(a);
    const y = keys.get(b);
    if (x !== undefined && y !== undefined) {
      if (x.position !== y.position) return x.position > y.position ? -1 : 1;
      if (x.ts !== y.ts) return x.ts - y.ts;
    }
    return compareByCodePoint(a, b);
  });
}

// ---------------------------------------------------------------------------
// Iterative auth checks
// ---------------------------------------------------------------------------

/**
 * Applies `eventIds` in order on top of `initialState`, keeping each state event the
 * auth rules allow against the state built so far. Auth state for an event is the
 * current partial state for the keys it needs, falling back to its own (non-rejected)
 * auth events for keys the partial state lacks.
 */
export async function iterativeAuthChecks(
  eventIds: readonly string[],
  initialState: ReadonlyStateMap<string>,
  cache: EventCache,
  roomVersion: RoomVersion,
  options: StateResolutionOptions = {},
): Promise<StateMap<string>> {
  const state: StateMap<string> = new Map(initialState);
  const createKey = stateTupleKey("m.room.create", "");

  for (const eventId of eventIds) {
    const event = await cache.fetch(eventId);
    if (event === undefined) continue;
    const eventKey = stateTupleKeyOf(event.pdu);
    if (eventKey === undefined) continue;

    const authState: StateMap<StoredEvent> = new Map();
    const authEventIds = getAuthEventIds(event.pdu, roomVersion);
    await cache.load(authEventIds);
    for (const authId of authEventIds) {
      const authEvent = cache.get(authId);
      if (authEvent === undefined || (await cache.isRejected(authId))) continue;
      const key = stateTupleKeyOf(authEvent.pdu);
      if (key !== undefined) authState.set(key, authEvent);
    }
    const neededKeys = authEventKeysForEvent(event.pdu, roomVersion).map(([type, key]) => stateTupleKey(type, key));
    neededKeys.push(createKey);
    for (const key of neededKeys) {
      const stateEventId = state.get(key);
      if (stateEventId === undefined) continue;
      const stateEvent = await cache.fetch(stateEventId);
      if (stateEvent !== undefined && !(await cache.isRejected(stateEventId))) authState.set(key, stateEvent);
    }

    const lookup: StateLookup = (type, stateKey) => authState.get(stateTupleKey(type, stateKey));
    if (authorizeEvent(event.pdu, lookup, roomVersion, options).allowed) state.set(eventKey, eventId);
  }
  return state;
}

// ---------------------------------------------------------------------------
// The algorithm
// ---------------------------------------------------------------------------

/**
 * Resolves state sets (each `(type, state_key)` -> event ID) with state resolution v2,
 * or v2.1 when `roomVersion.stateResolution` is "v2.1". Events the source does not know
 * are left out of the resolution.
 */
export async function resolveStateV2(
  stateSets: readonly ReadonlyStateMap<string>[],
  source: EventSource | EventCache,
  roomVersion: RoomVersion,
  options: StateResolutionOptions = {},
): Promise<StateMap<string>> {
  const cache = source instanceof EventCache ? source : new EventCache(source);
  const { unconflicted, conflicted } = separateStateSets(stateSets);
  if (conflicted.size === 0) return unconflicted;

  const conflictedEventIds = new Set<string>();
  for (const ids of conflicted.values()) for (const id of ids) conflictedEventIds.add(id);

  const isV21 = roomVersion.stateResolution === "v2.1";
  const fullConflictedSet = new Set<string>(conflictedEventIds);
  for (const id of await authDifference(stateSets, cache, roomVersion)) fullConflictedSet.add(id);
  if (isV21) {
    for (const id of await conflictedStateSubgraph(conflictedEventIds, cache, roomVersion)) fullConflictedSet.add(id);
  }
  await cache.load(fullConflictedSet);
  for (const id of fullConflictedSet) if (cache.get(id) === undefined) fullConflictedSet.delete(id);

  // 1. Power events and their auth ancestors in the full conflicted set, sorted.
  const powerEventIds = [...fullConflictedSet].filter((id) => {
    const event = cache.get(id);
    return event !== undefined && isPowerEvent(event.pdu);
  });
  const sortedPowerEvents = await reverseTopologicalPowerOrder(powerEventIds, fullConflictedSet, cache, roomVersion);

  // 2. Authorise them in order, from the unconflicted state (v2) or from nothing (v2.1).
  const initialState: StateMap<string> = isV21 ? new Map() : unconflicted;
  const partialState = await iterativeAuthChecks(sortedPowerEvents, initialState, cache, roomVersion, options);

  // 3. Every other event of the full conflicted set, in mainline order of the resolved power levels.
  const pickedPowerEvents = new Set(sortedPowerEvents);
  const remaining = [...fullConflictedSet].filter((id) => !pickedPowerEvents.has(id));
  const resolvedPowerLevels = partialState.get(stateTupleKey("m.room.power_levels", ""));
  const sortedRemaining = await mainlineOrder(remaining, resolvedPowerLevels, cache, roomVersion);

  // 4. Authorise them on top of the partial state.
  const resolved = await iterativeAuthChecks(sortedRemaining, partialState, cache, roomVersion, options);

  // 5. The unconflicted state always wins.
  for (const [key, eventId] of unconflicted) resolved.set(key, eventId);
  return resolved;
}
