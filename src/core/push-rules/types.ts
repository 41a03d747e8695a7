/**
 * Push rule data model (client-server API, "Push Notifications" module). Field names
 * follow the wire format so rules can be stored, served by `GET /pushrules` and put in
 * the `m.push_rules` account data event without conversion.
 */
import type { JsonObject, JsonValue } from "../events/pdu";

/** The kinds of rule, and the order in which they are checked. */
export type PushRuleKind = "override" | "content" | "room" | "sender" | "underride";

/** Evaluation order: override, content, room, sender, underride. */
export const PUSH_RULE_KINDS: readonly PushRuleKind[] = ["override", "content", "room", "sender", "underride"];

/**
 * The values `event_property_is` / `event_property_contains` compare: non-compound
 * canonical JSON (strings, integers in [-(2^53)+1, 2^53-1], booleans, null).
 */
export type PushConditionValue = string | number | boolean | null;

/** Case-insensitive glob over a string property (word-wise for `content.body`). */
export interface EventMatchCondition {
  kind: "event_match";
  /** Dot-separated property path; `\.` is a literal dot and `\\` a literal backslash. */
  key: string;
  pattern: string;
}

/** Exact match of a scalar property. */
export interface EventPropertyIsCondition {
  kind: "event_property_is";
  key: string;
  value: PushConditionValue;
}

/** An array property contains this scalar exactly. */
export interface EventPropertyContainsCondition {
  kind: "event_property_contains";
  key: string;
  value: PushConditionValue;
}

/**
 * `content.body` contains the user's display name in the room. Deprecated in v1.17
 * (only the legacy `.m.rule.contains_display_name` rule uses it) but still evaluated,
 * because users may have stored rules that use it.
 */
export interface ContainsDisplayNameCondition {
  kind: "contains_display_name";
}

/** Room size test: `is` is a decimal integer optionally prefixed by `==`, `<`, `>`, `<=` or `>=`. */
export interface RoomMemberCountCondition {
  kind: "room_member_count";
  is: string;
}

/** The sender's power level is at least the room's `notifications[key]` level. */
export interface SenderNotificationPermissionCondition {
  kind: "sender_notification_permission";
  key: string;
}

export type KnownPushCondition =
  | EventMatchCondition
  | EventPropertyIsCondition
  | EventPropertyContainsCondition
  | ContainsDisplayNameCondition
  | RoomMemberCountCondition
  | SenderNotificationPermissionCondition;

/**
 * A condition whose kind this server does not implement (or a known kind with
 * malformed parameters, as it arrives from storage). The spec says unrecognised
 * conditions never match, which disables their rule; they are kept so rules
 * round-trip unchanged.
 */
export interface UnrecognisedPushCondition {
  kind: string;
  [parameter: string]: JsonValue;
}

export type PushCondition = KnownPushCondition | UnrecognisedPushCondition;

/**
 * `{"set_tweak": name, "value": ...}`. The spec defines `sound` (string) and
 * `highlight` (boolean, `true` when `value` is absent); others pass through to the
 * push gateway untouched.
 */
export interface SetTweakAction {
  set_tweak: string;
  value?: JsonValue;
}

/**
 * Parameterless actions are strings (`"notify"`; the historical `"dont_notify"` and
 * `"coalesce"` are ignored), the rest are objects. Unknown actions are kept for
 * round-tripping and ignored by evaluation.
 */
export type PushAction = string | SetTweakAction;

export interface PushRule {
  /** Unique within its kind; server-default rules start with `.`. For `room` rules it is the room ID, for `sender` rules the user ID. */
  rule_id: string;
  /** True for server-default rules. */
  default: boolean;
  /** Disabled rules never match. */
  enabled: boolean;
  actions: PushAction[];
  /** `override` and `underride` only; absent or empty means "always matches". */
  conditions?: PushCondition[];
  /** `content` only: glob matched word-wise against `content.body`. */
  pattern?: string;
}

/**
 * The whole ruleset of one user (the `global` scope), each list already in priority
 * order: the first enabled, matching rule of the first kind that has one wins.
 */
export interface Ruleset {
  override: PushRule[];
  content: PushRule[];
  room: PushRule[];
  sender: PushRule[];
  underride: PushRule[];
}

/**
 * The event as push rules see it: the client-format event. Conditions may address
 * any property of it, including ones not declared here (the evaluator walks the
 * object it is given).
 */
export interface PushEvaluableEvent {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  room_id: string;
  event_id: string;
  origin_server_ts?: number;
  unsigned?: JsonObject;
}

/** What the evaluator needs to know about the recipient and the room, at the event. */
export interface PushEvaluationContext {
  /** The user whose rules are being evaluated. */
  userId: string;
  /**
   * The user's display name in the room (for the legacy `contains_display_name`
   * condition). For an invite of a user who has no member event yet, the invite's
   * `content.displayname` is the natural value.
   */
  displayName?: string;
  /** Joined members of the room, for `room_member_count`. */
  roomMemberCount: number;
  /** The sender's power level in the room. */
  senderPowerLevel: number;
  /**
   * The `notifications` object of the room's power levels (e.g. `{room: 50}`). A key
   * that is missing requires level 50, the schema default for `room`.
   */
  notificationPowerLevels: Readonly<Record<string, number>>;
}

export interface PushEvaluationResult {
  /** The matched rule has a `notify` action: count it and push it. */
  notify: boolean;
  /** Notifying and with a `highlight` tweak that is true (or has no value). */
  highlight: boolean;
  /** The `sound` tweak, if the matched rule sets one to a string. */
  sound?: string;
  /** The `rule_id` of the rule that matched; absent if none did (or the event is the user's own). */
  ruleId?: string;
  /** The kind of the rule that matched. */
  ruleKind?: PushRuleKind;
  /** The matched rule's actions without the historical `dont_notify` / `coalesce`; what a pusher sends. */
  actions: PushAction[];
  /** Every `set_tweak` of the matched rule (later ones win), with `highlight` defaulted to true when valueless. */
  tweaks: Record<string, JsonValue>;
}
