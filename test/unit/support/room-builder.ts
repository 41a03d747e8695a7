/**
 * Hand-built rooms for the auth-rules and state-resolution tests: events get readable
 * fake IDs (`$CREATE`, `$JOIN_BOB`, ...), placeholder hashes/signatures, and auth events
 * chosen from the room's current state with the auth events selection.
 */
import type { JsonObject, PDU, StoredEvent } from "../../../src/core/events/pdu";
import { getRoomVersion, type RoomVersion } from "../../../src/core/room-versions";
import { roomIdFromCreateEventId, selectAuthEventKeys } from "../../../src/core/auth/auth-events";
import { authorizeEventAgainstState, type AuthResult, type AuthorizeOptions } from "../../../src/core/auth/auth-rules";
import { stateTupleKey, stateTupleKeyOf, type StateLookup, type StateMap } from "../../../src/core/auth/state-map";
import type { EventSource } from "../../../src/core/state-resolution/v2";

export const ALICE = "@alice:example.com";
export const BOB = "@bob:example.com";
export const CHARLIE = "@charlie:example.com";
export const EVELYN = "@evelyn:example.com";
export const ZARA = "@zara:example.com";
/** A user on another server. */
export const MALLORY = "@mallory:other.example";

export function roomVersion(id: string): RoomVersion {
  const version = getRoomVersion(id);
  if (version === undefined) throw new Error(`unknown room version ${id}`);
  return version;
}

export interface EventSpec {
  /** Event ID, e.g. `$A`. */
  readonly id: string;
  readonly type: string;
  readonly sender: string;
  readonly stateKey?: string;
  readonly content?: JsonObject;
  /** Defaults to the room's latest event. */
  readonly prevEvents?: readonly string[];
  /** Defaults to the auth events selected from the room's current state. */
  readonly authEvents?: readonly string[];
  /** Defaults to a counter that increases with every event built. */
  readonly ts?: number;
  readonly redacts?: string;
  /** Extra servers to add a placeholder signature for (the sender's is always added). */
  readonly signedBy?: readonly string[];
  /** Overrides the room ID (e.g. to test cross-room events). */
  readonly roomId?: string | null;
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(":") + 1);
}

/**
 * A room with a linear history. `build` makes an event against the current state without
 * adding it; `add` appends an event and applies it to the state without checking it;
 * `send` checks the event against the current state first and fails the test if it is
 * rejected.
 */
export class RoomBuilder {
  readonly version: RoomVersion;
  readonly events = new Map<string, StoredEvent>();
  readonly state: StateMap<string> = new Map();
  roomId: string;
  private latestEventId: string | undefined;
  private clock = 0;

  constructor(versionId: string, roomId = "!room:example.com") {
    this.version = roomVersion(versionId);
    this.roomId = roomId;
  }

  lookup: StateLookup = (type, stateKey) => {
    const eventId = this.state.get(stateTupleKey(type, stateKey));
    return eventId === undefined ? undefined : this.events.get(eventId);
  };

  /** The event ID holding a state key, for assertions. */
  stateEventId(type: string, stateKey = ""): string | undefined {
    return this.state.get(stateTupleKey(type, stateKey));
  }

  build(spec: EventSpec): StoredEvent {
    const isCreate = spec.type === "m.room.create";
    const content = spec.content ?? {};
    const authEvents =
      spec.authEvents ??
      (isCreate
        ? []
        : selectAuthEventKeys(spec.type, spec.sender, spec.stateKey, content, this.version)
            .map(([type, key]) => this.state.get(stateTupleKey(type, key)))
            .filter((id): id is string => id !== undefined));
    const prevEvents = spec.prevEvents ?? (isCreate || this.latestEventId === undefined ? [] : [this.latestEventId]);
    const depth = Math.max(0, ...prevEvents.map((id) => this.events.get(id)?.pdu.depth ?? 0)) + 1;

    const signatures: Record<string, Record<string, string>> = {};
    for (const server of [serverOf(spec.sender), ...(spec.signedBy ?? [])]) {
      signatures[server] = { "ed25519:test": "placeholder-signature" };
    }
    const pdu: PDU = {
      sender: spec.sender,
      origin_server_ts: spec.ts ?? this.clock++,
      type: spec.type,
      content,
      prev_events: [...prevEvents],
      auth_events: [...authEvents],
      depth,
      hashes: { sha256: "placeholder-hash" },
      signatures,
    };
    const roomId = spec.roomId === undefined ? this.roomIdFor(spec) : spec.roomId;
    if (roomId !== null) pdu.room_id = roomId;
    if (spec.stateKey !== undefined) pdu.state_key = spec.stateKey;
    if (spec.redacts !== undefined) pdu.redacts = spec.redacts;
    // v1/v2 events carry their (server-chosen) ID.
    if (this.version.eventIdFormat === "v1") pdu.event_id = spec.id;
    return { eventId: spec.id, pdu };
  }

  private roomIdFor(spec: EventSpec): string | undefined {
    if (spec.type === "m.room.create" && this.version.roomIdFromCreateEvent) return undefined;
    return this.roomId;
  }

  /** Appends an event without authorising it. */
  add(spec: EventSpec): StoredEvent {
    const event = this.build(spec);
    this.append(event);
    return event;
  }

  append(event: StoredEvent): void {
    if (event.pdu.type === "m.room.create" && this.version.roomIdFromCreateEvent) {
      this.roomId = roomIdFromCreateEventId(event.eventId);
    }
    this.events.set(event.eventId, event);
    this.latestEventId = event.eventId;
    const key = stateTupleKeyOf(event.pdu);
    if (key !== undefined) this.state.set(key, event.eventId);
  }

  check(event: StoredEvent, options?: AuthorizeOptions): AuthResult {
    return authorizeEventAgainstState(event.pdu, this.lookup, this.version, options);
  }

  /** Builds, authorises against the current state and appends; throws if rejected. */
  send(spec: EventSpec, options?: AuthorizeOptions): StoredEvent {
    const event = this.build(spec);
    const result = this.check(event, options);
    if (!result.allowed) throw new Error(`${spec.id} unexpectedly rejected: ${result.reason}`);
    this.append(event);
    return event;
  }

  /** Builds and checks an event without appending it. */
  try(spec: EventSpec, options?: AuthorizeOptions): AuthResult {
    return this.check(this.build(spec), options);
  }

  /** The create event content this room version expects. */
  createContent(creator: string, extra: JsonObject = {}): JsonObject {
    return this.version.implicitRoomCreator
      ? { room_version: this.version.id, ...extra }
      : { creator, room_version: this.version.id, ...extra };
  }

  /**
   * The usual start of a room: create, the creator's join, power levels (the creator at
   * 100 except in v12, where creators must not be listed) and join rules.
   */
  bootstrap(options: { creator?: string; joinRule?: string; users?: JsonObject; powerLevels?: JsonObject; createExtra?: JsonObject } = {}): this {
    const creator = options.creator ?? ALICE;
    this.send({ id: "$CREATE", type: "m.room.create", sender: creator, stateKey: "", content: this.createContent(creator, options.createExtra) });
    this.send({ id: "$JOIN_CREATOR", type: "m.room.member", sender: creator, stateKey: creator, content: { membership: "join" } });
    const users: JsonObject = this.version.privilegedCreators ? { ...options.users } : { [creator]: 100, ...options.users };
    this.send({
      id: "$POWER",
      type: "m.room.power_levels",
      sender: creator,
      stateKey: "",
      content: { users, ...options.powerLevels },
    });
    this.send({
      id: "$JOIN_RULES",
      type: "m.room.join_rules",
      sender: creator,
      stateKey: "",
      content: { join_rule: options.joinRule ?? "public" },
    });
    return this;
  }

  /** Appends a join for `userId` (authorised against the current state). */
  join(userId: string, id = `$JOIN_${userId.slice(1, userId.indexOf(":")).toUpperCase()}`): StoredEvent {
    return this.send({ id, type: "m.room.member", sender: userId, stateKey: userId, content: { membership: "join" } });
  }
}

/** An {@link EventSource} over a map of events. */
export function eventSource(events: ReadonlyMap<string, StoredEvent>, rejected: ReadonlySet<string> = new Set()): EventSource {
  return {
    getEvent: (eventId) => events.get(eventId),
    isRejected: (eventId) => rejected.has(eventId),
  };
}
