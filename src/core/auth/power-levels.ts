/**
 * Reading `m.room.power_levels` content and computing users' power levels and the
 * levels required for actions, with the defaults and per-room-version value rules
 * of the specification (stringy values before v10, integers only from v10, privileged
 * room creators in v12).
 */
import type { JsonObject, JsonValue, PDU } from "../events/pdu";
import type { RoomVersion } from "../room-versions";
import type { StateLookup } from "./state-map";

/**
 * The power level of a v12 room creator. It is above every integer a power levels event
 * can hold, so every "greater than" comparison in the auth rules treats creators as
 * all-powerful without special cases.
 */
export const CREATOR_POWER_LEVEL = Number.POSITIVE_INFINITY;

/** v1-v11: the creator's level when the room has no m.room.power_levels event. */
export const CREATOR_LEVEL_WITHOUT_POWER_LEVELS = 100;

/** The named top-level levels; each defaults as in {@link DEFAULT_POWER_LEVELS}. */
export const NAMED_POWER_LEVEL_KEYS = [
  "users_default",
  "events_default",
  "state_default",
  "ban",
  "kick",
  "redact",
  "invite",
] as const;
export type NamedPowerLevelKey = (typeof NAMED_POWER_LEVEL_KEYS)[number];

/** `m.room.power_levels` content with numeric values and defaults applied. */
export interface PowerLevels {
  readonly usersDefault: number;
  readonly eventsDefault: number;
  readonly stateDefault: number;
  readonly ban: number;
  readonly kick: number;
  readonly redact: number;
  readonly invite: number;
  /** Only the entries whose values are valid power levels for the room version. */
  readonly users: ReadonlyMap<string, number>;
  readonly events: ReadonlyMap<string, number>;
  /** Raw entries; use {@link notificationPowerLevel} for the defaulted value. */
  readonly notifications: ReadonlyMap<string, number>;
}

/**
 * Defaults from the m.room.power_levels schema. They are the same whether or not the
 * room has a power levels event: the current spec (and Synapse) use a `state_default`
 * of 50 in both cases; only very old spec text said 0 when the event is absent.
 */
export const DEFAULT_POWER_LEVELS: PowerLevels = {
  usersDefault: 0,
  eventsDefault: 0,
  stateDefault: 50,
  ban: 50,
  kick: 50,
  redact: 50,
  invite: 0,
  users: new Map(),
  events: new Map(),
  notifications: new Map(),
};

/** Default levels for `notifications` keys; only `room` has one. */
const DEFAULT_NOTIFICATION_LEVELS: ReadonlyMap<string, number> = new Map([["room", 50]]);

/**
 * A base-10 integer with optional sign, leading zeroes and surrounding whitespace: the
 * string form that v1-v9 accept for power levels ("100", " +0100 ", "-5").
 */
const STRINGY_INTEGER = /^\s*[+-]?[0-9]+\s*$/;

/**
 * Interprets one power level value, or returns undefined if it is not a valid power
 * level in this room version.
 *
 * v10+: only integers. v1-v9: integers, numeric strings and (v1-v5, whose JSON is not
 * canonical) floats, which are truncated towards zero.
 */
export function parsePowerLevelValue(value: JsonValue | undefined, roomVersion: RoomVersion): number | undefined {
  if (typeof value === "number") {
    if (roomVersion.enforceIntPowerLevels) return Number.isInteger(value) ? value : undefined;
    if (!Number.isFinite(value)) return undefined;
    // `+ 0` turns -0 into 0 so levels compare and print plainly.
    return Math.trunc(value) + 0;
  }
  if (typeof value === "string" && !roomVersion.enforceIntPowerLevels && STRINGY_INTEGER.test(value)) {
    const parsed = Number(value.trim()) + 0;
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseLevelMap(value: JsonValue | undefined, roomVersion: RoomVersion): Map<string, number> {
  const levels = new Map<string, number>();
  if (!isJsonObject(value)) return levels;
  for (const [key, raw] of Object.entries(value)) {
    const level = parsePowerLevelValue(raw, roomVersion);
    if (level !== undefined) levels.set(key, level);
  }
  return levels;
}

/**
 * Reads power levels content, applying defaults. `content` undefined means the room has
 * no power levels event. Invalid values are treated as absent (their defaults apply):
 * events carrying them are rejected by the auth rules, so this only matters for
 * already-accepted legacy events.
 */
export function parsePowerLevels(content: JsonObject | undefined, roomVersion: RoomVersion): PowerLevels {
  if (content === undefined) return DEFAULT_POWER_LEVELS;
  const named: Record<NamedPowerLevelKey, number> = {
    users_default: DEFAULT_POWER_LEVELS.usersDefault,
    events_default: DEFAULT_POWER_LEVELS.eventsDefault,
    state_default: DEFAULT_POWER_LEVELS.stateDefault,
    ban: DEFAULT_POWER_LEVELS.ban,
    kick: DEFAULT_POWER_LEVELS.kick,
    redact: DEFAULT_POWER_LEVELS.redact,
    invite: DEFAULT_POWER_LEVELS.invite,
  };
  for (const key of NAMED_POWER_LEVEL_KEYS) {
    const level = parsePowerLevelValue(content[key], roomVersion);
    if (level !== undefined) named[key] = level;
  }
  return {
    usersDefault: named.users_default,
    eventsDefault: named.events_default,
    stateDefault: named.state_default,
    ban: named.ban,
    kick: named.kick,
    redact: named.redact,
    invite: named.invite,
    users: parseLevelMap(content["users"], roomVersion),
    events: parseLevelMap(content["events"], roomVersion),
    notifications: parseLevelMap(content["notifications"], roomVersion),
  };
}

/** The level for a `notifications` key (e.g. "room"), with the schema default. */
export function notificationPowerLevel(levels: PowerLevels, key: string): number | undefined {
  return levels.notifications.get(key) ?? DEFAULT_NOTIFICATION_LEVELS.get(key);
}

/**
 * A loose user ID check, as the auth rules apply it to `users` keys and (v12)
 * `additional_creators`: `@`, a localpart, `:`, a server name, at most 255 bytes.
 * Historical user IDs may contain almost any character in the localpart, so it is not
 * restricted here.
 */
export function isPlausibleUserId(value: string): boolean {
  if (!value.startsWith("@")) return false;
  const colon = value.indexOf(":");
  if (colon < 2 || colon === value.length - 1) return false;
  return new TextEncoder().encode(value).length <= 255;
}

/**
 * Why power levels content is unacceptable in this room version, or undefined if it is
 * acceptable. This is the content-only part of the power levels auth rule.
 *
 * v10+ follows the spec exactly. Before v10 the spec only constrains `users`; this also
 * rejects other values that cannot be read as integers (e.g. `"ban": "lots"`), because
 * their meaning is undefined and Synapse fails on them rather than accepting them.
 */
export function validatePowerLevelsContent(content: JsonObject, roomVersion: RoomVersion): string | undefined {
  for (const key of NAMED_POWER_LEVEL_KEYS) {
    const value = content[key];
    if (value !== undefined && parsePowerLevelValue(value, roomVersion) === undefined) {
      return `power level "${key}" is not ${roomVersion.enforceIntPowerLevels ? "an integer" : "an integer or integer string"}`;
    }
  }
  for (const mapKey of ["events", "notifications"] as const) {
    const value = content[mapKey];
    if (value === undefined) continue;
    if (!isJsonObject(value)) return `power levels "${mapKey}" is not an object`;
    for (const [entry, level] of Object.entries(value)) {
      if (parsePowerLevelValue(level, roomVersion) === undefined) {
        return `power level "${mapKey}.${entry}" is not a valid power level`;
      }
    }
  }
  const users = content["users"];
  if (users !== undefined) {
    if (!isJsonObject(users)) return `power levels "users" is not an object`;
    for (const [userId, level] of Object.entries(users)) {
      if (!isPlausibleUserId(userId)) return `power levels "users" key ${JSON.stringify(userId)} is not a user ID`;
      if (parsePowerLevelValue(level, roomVersion) === undefined) {
        return `power level for ${userId} is not a valid power level`;
      }
    }
  }
  return undefined;
}

/**
 * The single "creator" the pre-v12 rules talk about: `content.creator` of the create
 * event before v11, its sender from v11 (MSC2175).
 */
export function getRoomCreator(createEvent: PDU | undefined, roomVersion: RoomVersion): string | undefined {
  if (createEvent === undefined) return undefined;
  if (roomVersion.implicitRoomCreator) return createEvent.sender;
  const creator = createEvent.content["creator"];
  return typeof creator === "string" ? creator : undefined;
}

/**
 * v12: the room creators — the create event's sender plus `content.additional_creators`.
 * Empty for earlier room versions, where creators have no special power once a power
 * levels event exists.
 */
export function getPrivilegedCreators(createEvent: PDU | undefined, roomVersion: RoomVersion): ReadonlySet<string> {
  const creators = new Set<string>();
  if (createEvent === undefined || !roomVersion.privilegedCreators) return creators;
  creators.add(createEvent.sender);
  const additional = createEvent.content["additional_creators"];
  if (Array.isArray(additional)) {
    for (const userId of additional) if (typeof userId === "string") creators.add(userId);
  }
  return creators;
}

/**
 * A user's power level given the room's create and power levels events (either may be
 * absent). v12 creators: {@link CREATOR_POWER_LEVEL}. Otherwise the `users` entry, else
 * `users_default`, else 0; with no power levels event the creator has 100 and everyone
 * else 0.
 */
export function userPowerLevelFrom(
  userId: string,
  createEvent: PDU | undefined,
  powerLevelsEvent: PDU | undefined,
  roomVersion: RoomVersion,
): number {
  if (getPrivilegedCreators(createEvent, roomVersion).has(userId)) return CREATOR_POWER_LEVEL;
  if (powerLevelsEvent === undefined) {
    return getRoomCreator(createEvent, roomVersion) === userId ? CREATOR_LEVEL_WITHOUT_POWER_LEVELS : 0;
  }
  const levels = parsePowerLevels(powerLevelsEvent.content, roomVersion);
  return levels.users.get(userId) ?? levels.usersDefault;
}

/** {@link userPowerLevelFrom} reading the create and power levels events from `state`. */
export function getUserPowerLevel(userId: string, state: StateLookup, roomVersion: RoomVersion): number {
  return userPowerLevelFrom(
    userId,
    state("m.room.create", "")?.pdu,
    state("m.room.power_levels", "")?.pdu,
    roomVersion,
  );
}

/** The power levels in force in `state` (defaults when there is no power levels event). */
export function getPowerLevels(state: StateLookup, roomVersion: RoomVersion): PowerLevels {
  return parsePowerLevels(state("m.room.power_levels", "")?.pdu.content, roomVersion);
}

/**
 * The "required power level" to send an event: its `events` entry, else `state_default`
 * for state events or `events_default` for message events. (Membership is governed by
 * the invite/kick/ban levels instead; the auth rules handle that.)
 */
export function requiredPowerLevel(levels: PowerLevels, eventType: string, isStateEvent: boolean): number {
  return levels.events.get(eventType) ?? (isStateEvent ? levels.stateDefault : levels.eventsDefault);
}

/** {@link requiredPowerLevel} against `state`; `stateKey` undefined means a message event. */
export function getRequiredPowerLevelForEvent(
  eventType: string,
  stateKey: string | undefined,
  state: StateLookup,
  roomVersion: RoomVersion,
): number {
  return requiredPowerLevel(getPowerLevels(state, roomVersion), eventType, stateKey !== undefined);
}
