/**
 * Room versions 1-12 and the behaviour each one switches on.
 * Every algorithm that differs between room versions (event IDs, redaction,
 * auth rules, state resolution) reads these flags instead of comparing version strings.
 */
export type EventIdFormat = "v1" | "v3" | "v4";
export type StateResolutionAlgorithm = "v1" | "v2" | "v2.1";

export interface RoomVersion {
  readonly id: string;
  /** v1/v2: `$random:server`; v3: standard base64 reference hash; v4+: URL-safe base64. */
  readonly eventIdFormat: EventIdFormat;
  readonly stateResolution: StateResolutionAlgorithm;
  /** v5+: signing keys must be valid (valid_until_ts) at the event's origin_server_ts. */
  readonly enforceKeyValidity: boolean;
  /** v1-v5: m.room.aliases has its own auth rule (state_key must be the sender's server). */
  readonly specialCaseAliasesAuth: boolean;
  /** v1-v5: redaction keeps `aliases` in m.room.aliases content (dropped from v6 by MSC2432). */
  readonly redactionKeepsAliases: boolean;
  /** v6+: canonical JSON rejects integers outside [-(2^53)+1, 2^53-1]. */
  readonly strictCanonicalJson: boolean;
  /** v6+: `notifications` keys of m.room.power_levels are checked on change. */
  readonly limitNotificationsPowerLevels: boolean;
  /** v7+: the `knock` join rule and membership. */
  readonly knockJoinRule: boolean;
  /** v8+: the `restricted` join rule (and redaction keeps `allow` in m.room.join_rules content). */
  readonly restrictedJoinRule: boolean;
  /** v9+: redaction keeps `join_authorised_via_users_server` in member content. */
  readonly restrictedJoinRuleRedactionFix: boolean;
  /** v10+: the `knock_restricted` join rule. */
  readonly knockRestrictedJoinRule: boolean;
  /** v10+: power level values must be integers (no numeric strings). */
  readonly enforceIntPowerLevels: boolean;
  /** v11+: the updated redaction algorithm (MSC2176/MSC3821/MSC3989). */
  readonly updatedRedactionRules: boolean;
  /** v11+: m.room.create has no `creator`; the event's sender is the creator (MSC2175). */
  readonly implicitRoomCreator: boolean;
  /** v12: room ID derived from the create event's reference hash; creators have infinite power (MSC4289/MSC4291/MSC4297). */
  readonly roomIdFromCreateEvent: boolean;
  /** v12: `additional_creators` in m.room.create content and the privileged-creators rules. */
  readonly privilegedCreators: boolean;
}

const v1: RoomVersion = {
  id: "1",
  eventIdFormat: "v1",
  stateResolution: "v1",
  enforceKeyValidity: false,
  specialCaseAliasesAuth: true,
  redactionKeepsAliases: true,
  strictCanonicalJson: false,
  limitNotificationsPowerLevels: false,
  knockJoinRule: false,
  restrictedJoinRule: false,
  restrictedJoinRuleRedactionFix: false,
  knockRestrictedJoinRule: false,
  enforceIntPowerLevels: false,
  updatedRedactionRules: false,
  implicitRoomCreator: false,
  roomIdFromCreateEvent: false,
  privilegedCreators: false,
};
const v2: RoomVersion = { ...v1, id: "2", stateResolution: "v2" };
const v3: RoomVersion = { ...v2, id: "3", eventIdFormat: "v3" };
const v4: RoomVersion = { ...v3, id: "4", eventIdFormat: "v4" };
const v5: RoomVersion = { ...v4, id: "5", enforceKeyValidity: true };
const v6: RoomVersion = {
  ...v5,
  id: "6",
  specialCaseAliasesAuth: false,
  redactionKeepsAliases: false,
  strictCanonicalJson: true,
  limitNotificationsPowerLevels: true,
};
const v7: RoomVersion = { ...v6, id: "7", knockJoinRule: true };
const v8: RoomVersion = { ...v7, id: "8", restrictedJoinRule: true };
const v9: RoomVersion = { ...v8, id: "9", restrictedJoinRuleRedactionFix: true };
const v10: RoomVersion = { ...v9, id: "10", knockRestrictedJoinRule: true, enforceIntPowerLevels: true };
const v11: RoomVersion = { ...v10, id: "11", updatedRedactionRules: true, implicitRoomCreator: true };
const v12: RoomVersion = {
  ...v11,
  id: "12",
  stateResolution: "v2.1",
  roomIdFromCreateEvent: true,
  privilegedCreators: true,
};

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((v) => [v.id, v]),
);

export function getRoomVersion(id: string): RoomVersion | undefined {
  return ROOM_VERSIONS.get(id);
}
