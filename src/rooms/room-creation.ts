/**
 * The events of a new room (client-server API, POST /createRoom), in the order the spec requires:
 * create, the creator's join, power levels, canonical alias, the preset's join rules / history
 * visibility / guest access, `initial_state`, name and topic, then invites.
 *
 * Where the spec leaves room, this follows Synapse so rooms look the same to clients and servers: the
 * default power levels are Synapse's, a power levels event in `initial_state` replaces the default one
 * (in third place), and a preset event is skipped when `initial_state` sets the same state.
 */
import { stateTupleKey, type StateTupleKey } from "../core/auth/state-map";
import type { JsonObject } from "../core/events/pdu";
import { isValidUserId, parseRoomAlias } from "../core/identifiers";
import type { RoomVersion } from "../core/room-versions";
import { MatrixError, invalidParam } from "../http/errors";
import type { EventDraft } from "./event-builder";

export const ROOM_PRESETS = ["private_chat", "trusted_private_chat", "public_chat"] as const;
export type RoomPreset = (typeof ROOM_PRESETS)[number];

interface PresetSettings {
  joinRule: string;
  historyVisibility: string;
  guestCanJoin: boolean;
  invitesHaveCreatorPower: boolean;
  powerLevelOverride: JsonObject;
}

const PRESETS: Record<RoomPreset, PresetSettings> = {
  private_chat: {
    joinRule: "invite",
    historyVisibility: "shared",
    guestCanJoin: true,
    invitesHaveCreatorPower: false,
    powerLevelOverride: { invite: 0 },
  },
  trusted_private_chat: {
    joinRule: "invite",
    historyVisibility: "shared",
    guestCanJoin: true,
    invitesHaveCreatorPower: true,
    powerLevelOverride: { invite: 0 },
  },
  public_chat: {
    joinRule: "public",
    historyVisibility: "shared",
    guestCanJoin: false,
    invitesHaveCreatorPower: false,
    powerLevelOverride: {},
  },
};

export interface InitialStateEvent {
  type: string;
  stateKey: string;
  content: JsonObject;
}

export interface RoomCreationRequest {
  creator: string;
  /** The creator's display name and avatar, for their join event. */
  creatorProfile?: JsonObject;
  serverName: string;
  roomVersion: RoomVersion;
  visibility: "public" | "private";
  preset?: RoomPreset;
  /** The local part of the alias to create (`room_alias_name`). */
  aliasLocalpart?: string;
  name?: string;
  topic?: string;
  invite: readonly string[];
  isDirect: boolean;
  initialState: readonly InitialStateEvent[];
  powerLevelContentOverride?: JsonObject;
  creationContent: JsonObject;
}

export interface RoomCreationPlan {
  /** The content of the m.room.create event. */
  createContent: JsonObject;
  /** Every event after the create event, in order. */
  events: EventDraft[];
  /** The full alias to create and map to the room, if any. */
  alias?: string;
  isPublic: boolean;
}

const WHITESPACE = /\s/u;
const MAX_ALIAS_BYTES = 255;

/** `#localpart:server` for `room_alias_name`; M_INVALID_PARAM for what cannot be a local alias. */
export function aliasFromLocalpart(localpart: string, serverName: string): string {
  if (WHITESPACE.test(localpart)) throw invalidParam("Invalid characters in room alias");
  if (localpart.includes(":")) {
    throw invalidParam("':' is not permitted in the room alias name: expected a local part such as 'wombat'");
  }
  const alias = `#${localpart}:${serverName}`;
  if (parseRoomAlias(alias) === null || new TextEncoder().encode(alias).length > MAX_ALIAS_BYTES) {
    throw invalidParam("Invalid room alias");
  }
  return alias;
}

function uniqueInOrder(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function defaultPowerLevels(request: RoomCreationRequest, preset: PresetSettings): JsonObject {
  const { creator, roomVersion } = request;
  const users: JsonObject = {};
  // v12 creators have infinite power and must not be listed; before that the creator gets 100.
  if (!roomVersion.privilegedCreators) {
    users[creator] = 100;
    if (preset.invitesHaveCreatorPower) for (const invitee of request.invite) users[invitee] = 100;
  }
  return {
    users,
    users_default: 0,
    events: {
      "m.room.name": 50,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.canonical_alias": 50,
      "m.room.avatar": 50,
      // v12: must be above state_default's 100-level admins, who no longer outrank creators.
      "m.room.tombstone": roomVersion.privilegedCreators ? 150 : 100,
      "m.room.server_acl": 100,
      "m.room.encryption": 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: 50,
    historical: 100,
    ...preset.powerLevelOverride,
  };
}

function createContent(request: RoomCreationRequest, presetName: RoomPreset): JsonObject {
  const content: JsonObject = { ...request.creationContent, room_version: request.roomVersion.id };
  if (!request.roomVersion.implicitRoomCreator) content["creator"] = request.creator;
  if (request.roomVersion.privilegedCreators && presetName === "trusted_private_chat" && request.invite.length > 0) {
    const given = content["additional_creators"];
    const existing = Array.isArray(given) ? given.filter((id): id is string => typeof id === "string") : [];
    content["additional_creators"] = uniqueInOrder([...existing, ...request.invite]);
  }
  return content;
}

/** Validates a createRoom request and lays out the room's initial events. */
export function planRoomCreation(request: RoomCreationRequest): RoomCreationPlan {
  const presetName = request.preset ?? (request.visibility === "public" ? "public_chat" : "private_chat");
  const preset = PRESETS[presetName];
  const { creator } = request;

  for (const invitee of request.invite) {
    if (!isValidUserId(invitee)) throw invalidParam(`Invalid user_id: ${invitee}`);
  }
  const override = request.powerLevelContentOverride;
  if (override !== undefined && !request.roomVersion.privilegedCreators && "users" in override) {
    const users = override["users"];
    if (typeof users !== "object" || users === null || Array.isArray(users) || !(creator in users)) {
      throw new MatrixError(400, "M_INVALID_PARAM", `Not a valid power_level_content_override: 'users' did not contain ${creator}`);
    }
  }
  const alias = request.aliasLocalpart === undefined ? undefined : aliasFromLocalpart(request.aliasLocalpart, request.serverName);

  // A later initial_state entry for the same state replaces an earlier one but keeps its place.
  const initialState = new Map<StateTupleKey, InitialStateEvent>();
  for (const event of request.initialState) initialState.set(stateTupleKey(event.type, event.stateKey), event);
  const takeInitial = (type: string, stateKey = ""): InitialStateEvent | undefined => {
    const key = stateTupleKey(type, stateKey);
    const event = initialState.get(key);
    initialState.delete(key);
    return event;
  };
  const has = (type: string): boolean => initialState.has(stateTupleKey(type, ""));
  const state = (type: string, content: JsonObject, stateKey = ""): EventDraft => ({ type, sender: creator, stateKey, content });

  const events: EventDraft[] = [state("m.room.member", { ...request.creatorProfile, membership: "join" }, creator)];
  const initialPowerLevels = takeInitial("m.room.power_levels");
  events.push(
    state(
      "m.room.power_levels",
      initialPowerLevels?.content ?? { ...defaultPowerLevels(request, preset), ...request.powerLevelContentOverride },
    ),
  );
  if (alias !== undefined && !has("m.room.canonical_alias")) events.push(state("m.room.canonical_alias", { alias }));
  if (!has("m.room.join_rules")) events.push(state("m.room.join_rules", { join_rule: preset.joinRule }));
  if (!has("m.room.history_visibility")) {
    events.push(state("m.room.history_visibility", { history_visibility: preset.historyVisibility }));
  }
  if (preset.guestCanJoin && !has("m.room.guest_access")) events.push(state("m.room.guest_access", { guest_access: "can_join" }));
  for (const event of initialState.values()) events.push(state(event.type, event.content, event.stateKey));
  if (request.name !== undefined) events.push(state("m.room.name", { name: request.name }));
  if (request.topic !== undefined) {
    events.push(state("m.room.topic", { topic: request.topic, "m.topic": { "m.text": [{ body: request.topic }] } }));
  }
  for (const invitee of uniqueInOrder(request.invite)) {
    events.push(state("m.room.member", request.isDirect ? { membership: "invite", is_direct: true } : { membership: "invite" }, invitee));
  }

  return {
    createContent: createContent(request, presetName),
    events,
    ...(alias !== undefined ? { alias } : {}),
    isPublic: request.visibility === "public",
  };
}
