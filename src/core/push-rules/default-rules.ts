/**
 * Server-default push rules ("Predefined Rules" in the client-server API), in the
 * spec's order within each kind.
 */
import { parseUserId } from "../identifiers";
import type { PushAction, PushRule, Ruleset } from "./types";

export interface DefaultPushRuleOptions {
  /**
   * Include the body-based mention rules that v1.7 deprecated and v1.17 removed:
   * `.m.rule.contains_display_name`, `.m.rule.roomnotif` (override) and
   * `.m.rule.contains_user_name` (content). Default true: clients that predate
   * `m.mentions` (and bridges) still mention people only in the body, and the
   * evaluator skips these rules for any event that has `m.mentions`, which is what
   * v1.7-v1.16 required, so modern clients see the v1.17 behaviour.
   * Pass false for exactly the v1.17 list.
   */
  legacyMentionRules?: boolean;
  /**
   * Include the unstable MSC3930 poll rules (`.org.matrix.msc3930.rule.poll_*`) that
   * Synapse ships, so that polls notify like messages. Not in the spec; default false.
   */
  unstablePollRules?: boolean;
}

/** The user's localpart, for `.m.rule.contains_user_name`. */
function localpartOf(userId: string): string {
  const parsed = parseUserId(userId);
  if (parsed !== null) return parsed.localpart;
  // Not a valid user ID; still produce the obvious localpart rather than throw.
  const colon = userId.indexOf(":");
  return userId.slice(userId.startsWith("@") ? 1 : 0, colon < 0 ? undefined : colon);
}

// Fresh arrays on every call: callers may mutate the rules they get (e.g. when a
// user changes a default rule's actions).
const soundDefault = (): PushAction => ({ set_tweak: "sound", value: "default" });
const highlight = (): PushAction => ({ set_tweak: "highlight" });

function override(userId: string, options: Required<DefaultPushRuleOptions>): PushRule[] {
  const rules: PushRule[] = [
    {
      rule_id: ".m.rule.master",
      default: true,
      enabled: false,
      conditions: [],
      actions: [],
    },
    {
      rule_id: ".m.rule.suppress_notices",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_match", key: "content.msgtype", pattern: "m.notice" }],
      actions: [],
    },
    {
      rule_id: ".m.rule.invite_for_me",
      default: true,
      enabled: true,
      conditions: [
        { kind: "event_match", key: "type", pattern: "m.room.member" },
        { kind: "event_match", key: "content.membership", pattern: "invite" },
        { kind: "event_match", key: "state_key", pattern: userId },
      ],
      actions: ["notify", soundDefault()],
    },
    {
      rule_id: ".m.rule.member_event",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_match", key: "type", pattern: "m.room.member" }],
      actions: [],
    },
    {
      rule_id: ".m.rule.is_user_mention",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: userId }],
      actions: ["notify", soundDefault(), highlight()],
    },
  ];
  if (options.legacyMentionRules) {
    rules.push({
      rule_id: ".m.rule.contains_display_name",
      default: true,
      enabled: true,
      conditions: [{ kind: "contains_display_name" }],
      actions: ["notify", soundDefault(), highlight()],
    });
  }
  rules.push({
    rule_id: ".m.rule.is_room_mention",
    default: true,
    enabled: true,
    conditions: [
      { kind: "event_property_is", key: "content.m\\.mentions.room", value: true },
      { kind: "sender_notification_permission", key: "room" },
    ],
    actions: ["notify", highlight()],
  });
  if (options.legacyMentionRules) {
    rules.push({
      rule_id: ".m.rule.roomnotif",
      default: true,
      enabled: true,
      conditions: [
        { kind: "event_match", key: "content.body", pattern: "@room" },
        { kind: "sender_notification_permission", key: "room" },
      ],
      actions: ["notify", highlight()],
    });
  }
  rules.push(
    {
      rule_id: ".m.rule.tombstone",
      default: true,
      enabled: true,
      conditions: [
        { kind: "event_match", key: "type", pattern: "m.room.tombstone" },
        { kind: "event_match", key: "state_key", pattern: "" },
      ],
      actions: ["notify", highlight()],
    },
    {
      rule_id: ".m.rule.reaction",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_match", key: "type", pattern: "m.reaction" }],
      actions: [],
    },
    {
      rule_id: ".m.rule.room.server_acl",
      default: true,
      enabled: true,
      conditions: [
        { kind: "event_match", key: "type", pattern: "m.room.server_acl" },
        { kind: "event_match", key: "state_key", pattern: "" },
      ],
      actions: [],
    },
    {
      rule_id: ".m.rule.suppress_edits",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_property_is", key: "content.m\\.relates_to.rel_type", value: "m.replace" }],
      actions: [],
    },
  );
  if (options.unstablePollRules) {
    // Poll responses are votes: as noisy as reactions.
    rules.push({
      rule_id: ".org.matrix.msc3930.rule.poll_response",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_match", key: "type", pattern: "org.matrix.msc3381.poll.response" }],
      actions: [],
    });
  }
  return rules;
}

function content(userId: string, options: Required<DefaultPushRuleOptions>): PushRule[] {
  if (!options.legacyMentionRules) return [];
  return [
    {
      rule_id: ".m.rule.contains_user_name",
      default: true,
      enabled: true,
      pattern: localpartOf(userId),
      actions: ["notify", soundDefault(), highlight()],
    },
  ];
}

function underride(options: Required<DefaultPushRuleOptions>): PushRule[] {
  const rules: PushRule[] = [
    {
      rule_id: ".m.rule.call",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_match", key: "type", pattern: "m.call.invite" }],
      actions: ["notify", { set_tweak: "sound", value: "ring" }],
    },
    {
      rule_id: ".m.rule.encrypted_room_one_to_one",
      default: true,
      enabled: true,
      conditions: [
        { kind: "room_member_count", is: "2" },
        { kind: "event_match", key: "type", pattern: "m.room.encrypted" },
      ],
      actions: ["notify", soundDefault()],
    },
    {
      rule_id: ".m.rule.room_one_to_one",
      default: true,
      enabled: true,
      conditions: [
        { kind: "room_member_count", is: "2" },
        { kind: "event_match", key: "type", pattern: "m.room.message" },
      ],
      actions: ["notify", soundDefault()],
    },
    {
      rule_id: ".m.rule.message",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_match", key: "type", pattern: "m.room.message" }],
      actions: ["notify"],
    },
    {
      rule_id: ".m.rule.encrypted",
      default: true,
      enabled: true,
      conditions: [{ kind: "event_match", key: "type", pattern: "m.room.encrypted" }],
      actions: ["notify"],
    },
  ];
  if (options.unstablePollRules) {
    // Appended after the spec's rules; poll events match none of them.
    for (const [suffix, type] of [
      ["poll_start", "org.matrix.msc3381.poll.start"],
      ["poll_end", "org.matrix.msc3381.poll.end"],
    ] as const) {
      rules.push(
        {
          rule_id: `.org.matrix.msc3930.rule.${suffix}_one_to_one`,
          default: true,
          enabled: true,
          conditions: [
            { kind: "room_member_count", is: "2" },
            { kind: "event_match", key: "type", pattern: type },
          ],
          actions: ["notify", soundDefault()],
        },
        {
          rule_id: `.org.matrix.msc3930.rule.${suffix}`,
          default: true,
          enabled: true,
          conditions: [{ kind: "event_match", key: "type", pattern: type }],
          actions: ["notify"],
        },
      );
    }
  }
  return rules;
}

/**
 * The server-default ruleset for `userId` (the user's ID and localpart appear in
 * some rules). Every rule has `default: true`; all are enabled except
 * `.m.rule.master`. Returns new objects on every call.
 */
export function defaultPushRules(userId: string, options: DefaultPushRuleOptions = {}): Ruleset {
  const resolved: Required<DefaultPushRuleOptions> = {
    legacyMentionRules: options.legacyMentionRules ?? true,
    unstablePollRules: options.unstablePollRules ?? false,
  };
  return {
    override: override(userId, resolved),
    content: content(userId, resolved),
    room: [],
    sender: [],
    underride: underride(resolved),
  };
}

/**
 * Combines server-default and user-defined rules into the order the evaluator
 * checks them. Server-default rules rank below user-defined rules of the same kind,
 * except `.m.rule.master`, which ranks above everything so that enabling it
 * silences all notifications.
 */
export function combineRulesets(serverDefault: Ruleset, userDefined: Ruleset): Ruleset {
  const isMaster = (rule: PushRule): boolean => rule.rule_id === ".m.rule.master";
  return {
    override: [
      ...serverDefault.override.filter(isMaster),
      ...userDefined.override,
      ...serverDefault.override.filter((rule) => !isMaster(rule)),
    ],
    content: [...userDefined.content, ...serverDefault.content],
    room: [...userDefined.room, ...serverDefault.room],
    sender: [...userDefined.sender, ...serverDefault.sender],
    underride: [...userDefined.underride, ...serverDefault.underride],
  };
}
