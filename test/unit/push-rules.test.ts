import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JsonObject, JsonValue } from "../../src/core/events/pdu";
import {
  combineRulesets,
  defaultPushRules,
  evaluatePushRules,
  lookupEventProperty,
  matchesGlob,
  parsePropertyPath,
  type PushEvaluableEvent,
  type PushEvaluationContext,
  type PushRule,
  type Ruleset,
} from "../../src/core/push-rules";

const ALICE = "@alice:example.org";
const BOB = "@bob:example.org";
const ROOM = "!room:example.org";

let eventCounter = 0;
function event(type: string, content: JsonObject, extra: Partial<PushEvaluableEvent> = {}): PushEvaluableEvent {
  eventCounter++;
  return { type, sender: BOB, content, room_id: ROOM, event_id: `$event${eventCounter}:example.org`, ...extra };
}

function message(body: string, extraContent: JsonObject = {}): PushEvaluableEvent {
  return event("m.room.message", { msgtype: "m.text", body, ...extraContent });
}

/** Alice's view of a group room where Bob is an ordinary member. */
function context(overrides: Partial<PushEvaluationContext> = {}): PushEvaluationContext {
  return {
    userId: ALICE,
    displayName: "Alice Liddell",
    roomMemberCount: 5,
    senderPowerLevel: 0,
    notificationPowerLevels: { room: 50 },
    ...overrides,
  };
}

function evaluate(ev: PushEvaluableEvent, ctx: Partial<PushEvaluationContext> = {}, ruleset?: Ruleset) {
  return evaluatePushRules(ruleset ?? defaultPushRules(ALICE), ev, context(ctx));
}

function emptyRuleset(): Ruleset {
  return { override: [], content: [], room: [], sender: [], underride: [] };
}

function overrideRule(rule: Partial<PushRule> & Pick<PushRule, "rule_id">): PushRule {
  return { default: false, enabled: true, actions: ["notify"], ...rule };
}

describe("defaultPushRules", () => {
  it("lists the spec's rules in the spec's order, plus the legacy mention rules by default", () => {
    const rules = defaultPushRules(ALICE);
    assert.deepEqual(
      rules.override.map((rule) => rule.rule_id),
      [
        ".m.rule.master",
        ".m.rule.suppress_notices",
        ".m.rule.invite_for_me",
        ".m.rule.member_event",
        ".m.rule.is_user_mention",
        ".m.rule.contains_display_name",
        ".m.rule.is_room_mention",
        ".m.rule.roomnotif",
        ".m.rule.tombstone",
        ".m.rule.reaction",
        ".m.rule.room.server_acl",
        ".m.rule.suppress_edits",
      ],
    );
    assert.deepEqual(
      rules.content.map((rule) => [rule.rule_id, rule.pattern]),
      [[".m.rule.contains_user_name", "alice"]],
    );
    assert.deepEqual(rules.room, []);
    assert.deepEqual(rules.sender, []);
    assert.deepEqual(
      rules.underride.map((rule) => rule.rule_id),
      [".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted"],
    );
  });

  it("gives exactly the v1.17 list without legacy mention rules", () => {
    const rules = defaultPushRules(ALICE, { legacyMentionRules: false });
    assert.deepEqual(
      rules.override.map((rule) => rule.rule_id),
      [
        ".m.rule.master",
        ".m.rule.suppress_notices",
        ".m.rule.invite_for_me",
        ".m.rule.member_event",
        ".m.rule.is_user_mention",
        ".m.rule.is_room_mention",
        ".m.rule.tombstone",
        ".m.rule.reaction",
        ".m.rule.room.server_acl",
        ".m.rule.suppress_edits",
      ],
    );
    assert.deepEqual(rules.content, []);
  });

  it("marks every rule default, and enables all but the master rule", () => {
    const rules = defaultPushRules(ALICE, { unstablePollRules: true });
    for (const rule of [...rules.override, ...rules.content, ...rules.underride]) {
      assert.equal(rule.default, true, rule.rule_id);
      assert.equal(rule.enabled, rule.rule_id !== ".m.rule.master", rule.rule_id);
      assert.ok(rule.rule_id.startsWith("."), rule.rule_id);
    }
  });

  it("matches the spec's JSON for rules that embed the user ID", () => {
    const rules = defaultPushRules(ALICE);
    assert.deepEqual(
      rules.override.find((rule) => rule.rule_id === ".m.rule.invite_for_me"),
      {
        rule_id: ".m.rule.invite_for_me",
        default: true,
        enabled: true,
        conditions: [
          { kind: "event_match", key: "type", pattern: "m.room.member" },
          { kind: "event_match", key: "content.membership", pattern: "invite" },
          { kind: "event_match", key: "state_key", pattern: ALICE },
        ],
        actions: ["notify", { set_tweak: "sound", value: "default" }],
      },
    );
    assert.deepEqual(
      rules.override.find((rule) => rule.rule_id === ".m.rule.is_user_mention"),
      {
        rule_id: ".m.rule.is_user_mention",
        default: true,
        enabled: true,
        conditions: [{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: ALICE }],
        actions: ["notify", { set_tweak: "sound", value: "default" }, { set_tweak: "highlight" }],
      },
    );
  });

  it("returns fresh objects, so one user's edits do not leak", () => {
    const first = defaultPushRules(ALICE);
    first.underride[0]?.actions.push("dont_notify");
    assert.deepEqual(defaultPushRules(ALICE).underride[0]?.actions, ["notify", { set_tweak: "sound", value: "ring" }]);
  });

  it("adds the unstable poll rules only on request", () => {
    assert.ok(!defaultPushRules(ALICE).underride.some((rule) => rule.rule_id.includes("poll")));
    const rules = defaultPushRules(ALICE, { unstablePollRules: true });
    const poll = event("org.matrix.msc3381.poll.start", {});
    assert.deepEqual(evaluate(poll, {}, rules).ruleId, ".org.matrix.msc3930.rule.poll_start");
    assert.deepEqual(evaluate(poll, { roomMemberCount: 2 }, rules).ruleId, ".org.matrix.msc3930.rule.poll_start_one_to_one");
    assert.equal(evaluate(event("org.matrix.msc3381.poll.response", {}), {}, rules).notify, false);
  });
});

describe("evaluatePushRules with the default rules", () => {
  it("notifies for a plain message in a group room, without highlight or sound", () => {
    const result = evaluate(message("hello everyone"));
    assert.equal(result.notify, true);
    assert.equal(result.highlight, false);
    assert.equal(result.sound, undefined);
    assert.equal(result.ruleId, ".m.rule.message");
    assert.equal(result.ruleKind, "underride");
    assert.deepEqual(result.actions, ["notify"]);
  });

  it("notifies with sound for a message in a two-member room", () => {
    const result = evaluate(message("hi"), { roomMemberCount: 2 });
    assert.deepEqual(
      { notify: result.notify, highlight: result.highlight, sound: result.sound, ruleId: result.ruleId },
      { notify: true, highlight: false, sound: "default", ruleId: ".m.rule.room_one_to_one" },
    );
  });

  it("highlights a message naming the user's display name", () => {
    const result = evaluate(message("have you seen alice liddell today?"));
    assert.equal(result.ruleId, ".m.rule.contains_display_name");
    assert.equal(result.notify, true);
    assert.equal(result.highlight, true);
    assert.equal(result.sound, "default");
  });

  it("does not match the display name inside a longer word", () => {
    assert.equal(evaluate(message("x"), { displayName: "Al" }).highlight, false);
    assert.equal(evaluate(message("Alas"), { displayName: "Al" }).highlight, false);
    assert.equal(evaluate(message("hi Al!"), { displayName: "Al" }).highlight, true);
  });

  it("treats the display name as text, not a glob, and ignores an empty one", () => {
    assert.equal(evaluate(message("hello world"), { displayName: "*" }).highlight, false);
    assert.equal(evaluate(message("hello * world"), { displayName: "*" }).highlight, true);
    assert.equal(evaluate(message("hello world"), { displayName: "" }).highlight, false);
    assert.equal(evaluate(message("hello world"), { displayName: undefined }).highlight, false);
  });

  it("highlights a message containing the user's localpart as a word", () => {
    const result = evaluate(message("ping ALICE: are you there?"), { displayName: undefined });
    assert.equal(result.ruleId, ".m.rule.contains_user_name");
    assert.equal(result.ruleKind, "content");
    assert.equal(result.highlight, true);
    assert.equal(evaluate(message("malice aforethought"), { displayName: undefined }).highlight, false);
  });

  it("highlights when m.mentions.user_ids contains the user", () => {
    const result = evaluate(message("hey", { "m.mentions": { user_ids: [BOB, ALICE] } }));
    assert.equal(result.ruleId, ".m.rule.is_user_mention");
    assert.equal(result.notify, true);
    assert.equal(result.highlight, true);
    assert.equal(result.sound, "default");
  });

  it("skips the body-based rules when the event has m.mentions", () => {
    const result = evaluate(message("alice liddell, alice, @room", { "m.mentions": {} }), { senderPowerLevel: 100 });
    assert.equal(result.ruleId, ".m.rule.message");
    assert.equal(result.highlight, false);
  });

  it("does not highlight body mentions when the legacy rules are left out", () => {
    const rules = defaultPushRules(ALICE, { legacyMentionRules: false });
    const result = evaluate(message("alice liddell, alice, @room"), { senderPowerLevel: 100 }, rules);
    assert.equal(result.ruleId, ".m.rule.message");
    assert.equal(result.highlight, false);
  });

  it("highlights an @room mention from a sender with enough power", () => {
    const intentional = evaluate(message("@room meeting now", { "m.mentions": { room: true } }), { senderPowerLevel: 50 });
    assert.equal(intentional.ruleId, ".m.rule.is_room_mention");
    assert.equal(intentional.highlight, true);
    assert.equal(intentional.sound, undefined);

    const legacy = evaluate(message("@room meeting now"), { senderPowerLevel: 50, displayName: undefined });
    assert.equal(legacy.ruleId, ".m.rule.roomnotif");
    assert.equal(legacy.highlight, true);
  });

  it("does not highlight @room from a sender without enough power", () => {
    const intentional = evaluate(message("@room meeting now", { "m.mentions": { room: true } }), { senderPowerLevel: 49 });
    assert.equal(intentional.ruleId, ".m.rule.message");
    assert.equal(intentional.notify, true);
    assert.equal(intentional.highlight, false);

    const legacy = evaluate(message("@room meeting now"), { senderPowerLevel: 0 });
    assert.equal(legacy.ruleId, ".m.rule.message");
    assert.equal(legacy.highlight, false);
  });

  it("uses the room's notifications level, and 50 when the key is absent", () => {
    const mention = message("x", { "m.mentions": { room: true } });
    assert.equal(evaluate(mention, { senderPowerLevel: 10, notificationPowerLevels: { room: 10 } }).highlight, true);
    assert.equal(evaluate(mention, { senderPowerLevel: 49, notificationPowerLevels: {} }).highlight, false);
    assert.equal(evaluate(mention, { senderPowerLevel: 50, notificationPowerLevels: {} }).highlight, true);
  });

  it("requires m.mentions.room to be exactly true", () => {
    for (const room of ["true", 1, null]) {
      assert.equal(evaluate(message("x", { "m.mentions": { room } }), { senderPowerLevel: 100 }).highlight, false);
    }
  });

  it("suppresses m.notice messages, even mentioning the user", () => {
    const result = evaluate(event("m.room.message", { msgtype: "m.notice", body: "alice: build failed" }));
    assert.equal(result.ruleId, ".m.rule.suppress_notices");
    assert.equal(result.notify, false);
    assert.equal(result.highlight, false);
  });

  it("suppresses edits", () => {
    const edit = message("* fixed typo", {
      "m.new_content": { msgtype: "m.text", body: "fixed typo" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$original:example.org" },
    });
    const result = evaluate(edit, { roomMemberCount: 2 });
    assert.equal(result.ruleId, ".m.rule.suppress_edits");
    assert.equal(result.notify, false);
  });

  it("still notifies replies and threads", () => {
    const reply = message("ok", { "m.relates_to": { "m.in_reply_to": { event_id: "$x:example.org" } } });
    assert.equal(evaluate(reply).notify, true);
    const threaded = message("ok", { "m.relates_to": { rel_type: "m.thread", event_id: "$root:example.org" } });
    assert.equal(evaluate(threaded).notify, true);
  });

  it("never notifies the user of their own events", () => {
    const own = event("m.room.message", { msgtype: "m.text", body: "alice @room", "m.mentions": { user_ids: [ALICE] } }, { sender: ALICE });
    const result = evaluate(own, { roomMemberCount: 2, senderPowerLevel: 100 });
    assert.deepEqual(result, { notify: false, highlight: false, actions: [], tweaks: {} });
  });

  it("notifies (with sound, without highlight) for an invite to the user", () => {
    const invite = event("m.room.member", { membership: "invite" }, { state_key: ALICE });
    const result = evaluate(invite);
    assert.equal(result.ruleId, ".m.rule.invite_for_me");
    assert.equal(result.notify, true);
    assert.equal(result.highlight, false);
    assert.equal(result.sound, "default");
  });

  it("does not notify for other membership events", () => {
    for (const [membership, stateKey] of [
      ["invite", "@carol:example.org"],
      ["join", BOB],
      ["leave", BOB],
      ["join", ALICE],
    ] as const) {
      const result = evaluate(event("m.room.member", { membership }, { state_key: stateKey }));
      assert.equal(result.ruleId, ".m.rule.member_event", `${membership} ${stateKey}`);
      assert.equal(result.notify, false);
    }
  });

  it("notifies for encrypted events in group rooms and, with sound, in 1:1 rooms", () => {
    const encrypted = event("m.room.encrypted", { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "..." });
    const group = evaluate(encrypted);
    assert.deepEqual([group.ruleId, group.notify, group.highlight, group.sound], [".m.rule.encrypted", true, false, undefined]);
    const direct = evaluate(encrypted, { roomMemberCount: 2 });
    assert.deepEqual(
      [direct.ruleId, direct.notify, direct.highlight, direct.sound],
      [".m.rule.encrypted_room_one_to_one", true, false, "default"],
    );
  });

  it("rings for call invites", () => {
    const result = evaluate(event("m.call.invite", { call_id: "1", version: 1 }));
    assert.deepEqual([result.ruleId, result.notify, result.sound], [".m.rule.call", true, "ring"]);
  });

  it("highlights a room upgrade, but only as a state event", () => {
    const tombstone = event("m.room.tombstone", { body: "moved", replacement_room: "!new:example.org" }, { state_key: "" });
    const result = evaluate(tombstone);
    assert.deepEqual([result.ruleId, result.notify, result.highlight], [".m.rule.tombstone", true, true]);
    assert.equal(evaluate(event("m.room.tombstone", { body: "moved" })).notify, false);
  });

  it("does not notify for reactions, server ACLs or other state", () => {
    const reaction = event("m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: "$x", key: "👍" } });
    assert.equal(evaluate(reaction, { roomMemberCount: 2 }).ruleId, ".m.rule.reaction");
    assert.equal(evaluate(reaction).notify, false);
    const acl = event("m.room.server_acl", { allow: ["*"] }, { state_key: "" });
    assert.equal(evaluate(acl).ruleId, ".m.rule.room.server_acl");
    assert.equal(evaluate(acl).notify, false);
    const topic = event("m.room.topic", { topic: "alice" }, { state_key: "" });
    assert.deepEqual(evaluate(topic), { notify: false, highlight: false, actions: [], tweaks: {} });
  });

  it("matches nothing when the master rule is disabled, and silences everything when enabled", () => {
    const rules = defaultPushRules(ALICE);
    assert.equal(evaluate(message("hi alice"), {}, rules).highlight, true);
    const master = rules.override[0];
    assert.equal(master?.rule_id, ".m.rule.master");
    if (master !== undefined) master.enabled = true;
    for (const ev of [
      message("hi alice", { "m.mentions": { user_ids: [ALICE] } }),
      event("m.room.member", { membership: "invite" }, { state_key: ALICE }),
      event("m.room.encrypted", {}),
    ]) {
      const result = evaluate(ev, { roomMemberCount: 2 }, rules);
      assert.deepEqual(
        { notify: result.notify, highlight: result.highlight, ruleId: result.ruleId },
        { notify: false, highlight: false, ruleId: ".m.rule.master" },
      );
    }
  });
});

describe("evaluatePushRules with user rules", () => {
  it("ranks user rules above server-default rules of the same kind, but below the master rule", () => {
    const user = emptyRuleset();
    user.override.push(overrideRule({ rule_id: "shout", conditions: [{ kind: "event_match", key: "content.body", pattern: "help" }] }));
    user.underride.push(overrideRule({ rule_id: "quiet", conditions: [], actions: [] }));
    const defaults = defaultPushRules(ALICE);
    const rules = combineRulesets(defaults, user);
    assert.deepEqual(rules.override.slice(0, 3).map((rule) => rule.rule_id), [".m.rule.master", "shout", ".m.rule.suppress_notices"]);
    assert.equal(rules.underride[0]?.rule_id, "quiet");

    // Beats .m.rule.suppress_notices:
    assert.equal(evaluate(event("m.room.message", { msgtype: "m.notice", body: "help!" }), {}, rules).ruleId, "shout");
    // The user's catch-all underride silences ordinary messages:
    assert.equal(evaluate(message("hi"), {}, rules).notify, false);

    const master = rules.override[0];
    if (master !== undefined) master.enabled = true;
    assert.equal(evaluate(message("help"), {}, rules).ruleId, ".m.rule.master");
  });

  it("checks kinds in the order override, content, room, sender, underride", () => {
    const rules = emptyRuleset();
    rules.underride.push(overrideRule({ rule_id: "underride" }));
    rules.sender.push(overrideRule({ rule_id: BOB }));
    rules.room.push(overrideRule({ rule_id: ROOM }));
    rules.content.push(overrideRule({ rule_id: "cake", pattern: "cake" }));
    rules.override.push(overrideRule({ rule_id: "override", conditions: [{ kind: "event_match", key: "content.body", pattern: "tea" }] }));
    assert.equal(evaluate(message("tea and cake"), {}, rules).ruleId, "override");
    assert.equal(evaluate(message("cake"), {}, rules).ruleId, "cake");
    assert.equal(evaluate(message("pie"), {}, rules).ruleId, ROOM);
    assert.equal(evaluate(event("m.room.message", { body: "pie" }, { room_id: "!other:example.org" }), {}, rules).ruleId, BOB);
    assert.equal(
      evaluate(event("m.room.message", { body: "pie" }, { room_id: "!other:example.org", sender: "@carol:example.org" }), {}, rules).ruleId,
      "underride",
    );
  });

  it("takes the first matching rule within a kind, skipping disabled ones", () => {
    const rules = emptyRuleset();
    rules.content.push(overrideRule({ rule_id: "time", pattern: "time", enabled: false }));
    rules.content.push(overrideRule({ rule_id: "tea", pattern: "tea" }));
    rules.content.push(overrideRule({ rule_id: "its", pattern: "it's" }));
    assert.equal(evaluate(message("It's time for tea"), {}, rules).ruleId, "tea");
  });

  it("ignores dont_notify and coalesce, and passes other tweaks through", () => {
    const rules = emptyRuleset();
    rules.override.push(
      overrideRule({
        rule_id: "legacy",
        conditions: [{ kind: "event_match", key: "content.body", pattern: "quiet" }],
        actions: ["dont_notify", "coalesce"],
      }),
      overrideRule({
        rule_id: "custom",
        conditions: [],
        actions: [
          "notify",
          { set_tweak: "sound", value: "cakealarm.wav" },
          { set_tweak: "highlight", value: false },
          { set_tweak: "org.example.led", value: "blue" },
          "org.example.unknown",
        ],
      }),
    );
    const quiet = evaluate(message("quiet please"), {}, rules);
    assert.deepEqual({ notify: quiet.notify, ruleId: quiet.ruleId, actions: quiet.actions }, { notify: false, ruleId: "legacy", actions: [] });

    const custom = evaluate(message("anything"), {}, rules);
    assert.equal(custom.notify, true);
    assert.equal(custom.highlight, false);
    assert.equal(custom.sound, "cakealarm.wav");
    assert.deepEqual(custom.tweaks, { sound: "cakealarm.wav", highlight: false, "org.example.led": "blue" });
    assert.equal(custom.actions.length, 5);
  });

  it("does not highlight without notify", () => {
    const rules = emptyRuleset();
    rules.override.push(overrideRule({ rule_id: "odd", conditions: [], actions: [{ set_tweak: "highlight" }] }));
    const result = evaluate(message("x"), {}, rules);
    assert.deepEqual([result.notify, result.highlight, result.tweaks], [false, false, { highlight: true }]);
  });

  it("treats unrecognised or malformed conditions as never matching", () => {
    const rules = emptyRuleset();
    rules.override.push(
      overrideRule({ rule_id: "future", conditions: [{ kind: "org.example.future", key: "type" }] }),
      overrideRule({ rule_id: "no-pattern", conditions: [{ kind: "event_match", key: "type" }] }),
      overrideRule({ rule_id: "bad-is", conditions: [{ kind: "room_member_count", is: "two" }] }),
      overrideRule({ rule_id: "compound-value", conditions: [{ kind: "event_property_is", key: "content", value: {} }] }),
    );
    const result = evaluate(message("x"), {}, rules);
    assert.equal(result.notify, false);
    assert.equal(result.ruleId, undefined);
  });

  it("treats a rule without conditions as matching everything", () => {
    const rules = emptyRuleset();
    rules.override.push({ rule_id: "all", default: false, enabled: true, actions: ["notify"] });
    assert.equal(evaluate(event("m.room.topic", {}, { state_key: "" }), {}, rules).ruleId, "all");
  });
});

describe("conditions", () => {
  function matches(condition: PushRule["conditions"], ev: PushEvaluableEvent, ctx: Partial<PushEvaluationContext> = {}): boolean {
    const rules = emptyRuleset();
    rules.override.push(overrideRule({ rule_id: "test", conditions: condition ?? [] }));
    return evaluate(ev, ctx, rules).ruleId === "test";
  }

  it("room_member_count supports ==, <, >, <=, >= and a bare number", () => {
    const cases: [string, number, boolean][] = [
      ["2", 2, true],
      ["2", 3, false],
      ["==2", 2, true],
      ["==2", 1, false],
      ["<10", 9, true],
      ["<10", 10, false],
      [">10", 11, true],
      [">10", 10, false],
      ["<=10", 10, true],
      ["<=10", 11, false],
      [">=10", 10, true],
      [">=10", 9, false],
      ["=2", 2, false],
      ["<<2", 1, false],
      [" 2", 2, false],
      ["-1", 0, false],
      ["", 0, false],
    ];
    for (const [is, count, expected] of cases) {
      assert.equal(matches([{ kind: "room_member_count", is }], message("x"), { roomMemberCount: count }), expected, `${is} vs ${count}`);
    }
  });

  it("event_match follows the spec's content.topic example", () => {
    const topic = (value?: JsonValue) => event("m.room.topic", value === undefined ? {} : { topic: value }, { state_key: "" });
    const condition = [{ kind: "event_match" as const, key: "content.topic", pattern: "lunc?*" }];
    assert.equal(matches(condition, topic("Lunch plans")), true);
    assert.equal(matches(condition, topic("LUNCH")), true);
    assert.equal(matches(condition, topic(" lunch")), false);
    assert.equal(matches(condition, topic("lunc")), false);
    assert.equal(matches(condition, topic(null)), false);
    assert.equal(matches(condition, topic(undefined)), false);
  });

  it("event_match does not match absent or non-string values, even with *", () => {
    const star = (key: string) => [{ kind: "event_match" as const, key, pattern: "*" }];
    assert.equal(matches(star("content.missing"), message("x")), false);
    assert.equal(matches(star("content.count"), message("x", { count: 3 })), false);
    assert.equal(matches(star("content.flag"), message("x", { flag: true })), false);
    assert.equal(matches(star("content"), message("x")), false);
    assert.equal(matches(star("content.body"), message("")), true);
    assert.equal(matches(star("state_key"), event("m.room.topic", {}, { state_key: "" })), true);
  });

  it("event_property_is matches exactly, without casting", () => {
    const create = event("m.room.create", { "m.federate": true, creator: BOB, version: 1, gone: null }, { state_key: "" });
    const is = (key: string, value: string | number | boolean | null) => [{ kind: "event_property_is" as const, key, value }];
    assert.equal(matches(is("content.m\\.federate", true), create), true);
    assert.equal(matches(is("content.m\\.federate", "true"), create), false);
    assert.equal(matches(is("content.m\\.federate", 1), create), false);
    assert.equal(matches(is("content.version", 1), create), true);
    assert.equal(matches(is("content.version", true), create), false);
    assert.equal(matches(is("content.gone", null), create), true);
    assert.equal(matches(is("content.absent", null), create), false);
    assert.equal(matches(is("content.creator", "@BOB:example.org"), create), false);
    assert.equal(matches(is("content.creator", BOB), create), true);
  });

  it("event_property_contains matches whole array entries of simple types", () => {
    const aliases = event(
      "m.room.canonical_alias",
      { alias: "#somewhere:localhost", alt_aliases: ["#somewhere:example.org", "#myroom:example.com", { nested: "x" }, 7, null] },
      { state_key: "" },
    );
    const contains = (key: string, value: string | number | boolean | null) => [{ kind: "event_property_contains" as const, key, value }];
    assert.equal(matches(contains("content.alt_aliases", "#myroom:example.com"), aliases), true);
    assert.equal(matches(contains("content.alt_aliases", ":example.com"), aliases), false);
    assert.equal(matches(contains("content.alt_aliases", "#MYROOM:example.com"), aliases), false);
    assert.equal(matches(contains("content.alt_aliases", 7), aliases), true);
    assert.equal(matches(contains("content.alt_aliases", null), aliases), true);
    assert.equal(matches(contains("content.alias", "#somewhere:localhost"), aliases), false);
    assert.equal(matches(contains("content.missing", "x"), aliases), false);
  });

  it("event_property_contains on m.mentions.user_ids does not match partial or other users", () => {
    const mention = (userIds: JsonValue) => message("hi", { "m.mentions": { user_ids: userIds } });
    const rules = defaultPushRules(ALICE, { legacyMentionRules: false });
    assert.equal(evaluate(mention(["@alice:example.org.evil"]), {}, rules).highlight, false);
    assert.equal(evaluate(mention(["@ALICE:example.org"]), {}, rules).highlight, false);
    assert.equal(evaluate(mention(ALICE), {}, rules).highlight, false);
    assert.equal(evaluate(mention([ALICE]), {}, rules).highlight, true);
  });

  it("sender_notification_permission reads the given key", () => {
    const condition = [{ kind: "sender_notification_permission" as const, key: "org.example.custom" }];
    assert.equal(matches(condition, message("x"), { senderPowerLevel: 20, notificationPowerLevels: { "org.example.custom": 20 } }), true);
    assert.equal(matches(condition, message("x"), { senderPowerLevel: 19, notificationPowerLevels: { "org.example.custom": 20 } }), false);
    // Not inherited properties such as "constructor":
    const proto = [{ kind: "sender_notification_permission" as const, key: "constructor" }];
    assert.equal(matches(proto, message("x"), { senderPowerLevel: 0, notificationPowerLevels: {} }), false);
  });
});

describe("matchesGlob", () => {
  it("matches whole values case-insensitively with * and ?", () => {
    assert.equal(matchesGlob("m.room.*", "m.room.message", "whole"), true);
    assert.equal(matchesGlob("m.room.*", "m.room.", "whole"), true);
    assert.equal(matchesGlob("m.room.*", "x.m.room.message", "whole"), false);
    assert.equal(matchesGlob("M.ROOM.MESSAGE", "m.room.message", "whole"), true);
    assert.equal(matchesGlob("m.room.message", "m.room.messages", "whole"), false);
    assert.equal(matchesGlob("?", "", "whole"), false);
    assert.equal(matchesGlob("?", "é", "whole"), true);
    assert.equal(matchesGlob("?", "😀", "whole"), true, "? is one character, even outside the BMP");
    assert.equal(matchesGlob("??", "😀", "whole"), false);
    assert.equal(matchesGlob("", "", "whole"), true);
    assert.equal(matchesGlob("", "x", "whole"), false);
    assert.equal(matchesGlob("*", "", "whole"), true);
    assert.equal(matchesGlob("a*b*c", "aXXbYYc", "whole"), true);
    assert.equal(matchesGlob("a*b*c", "aXXbYY", "whole"), false);
    assert.equal(matchesGlob("a**?", "ab", "whole"), true);
    assert.equal(matchesGlob("ÉCOLE", "école", "whole"), true);
    assert.equal(matchesGlob("*", "line one\nline two", "whole"), true);
  });

  it("treats regex metacharacters literally", () => {
    assert.equal(matchesGlob("a.c", "abc", "whole"), false);
    assert.equal(matchesGlob("a.c", "a.c", "whole"), true);
    assert.equal(matchesGlob("[abc]", "a", "whole"), false);
    assert.equal(matchesGlob("[abc]", "[ABC]", "whole"), true);
    assert.equal(matchesGlob("(x)+$", "(x)+$", "whole"), true);
    assert.equal(matchesGlob("\\d", "\\d", "whole"), true);
  });

  it("matches words in content.body as the spec's examples show", () => {
    assert.equal(matchesGlob("ex*ple", "An example event.", "words"), true);
    assert.equal(matchesGlob("ex*ple", "exple", "words"), true);
    assert.equal(matchesGlob("ex*ple", "An exciting triple-whammy", "words"), true);
    assert.equal(matchesGlob("ex*ple", "An examples event", "words"), false);
    assert.equal(matchesGlob("ex*ple", "Complex example", "words"), true, "may start at a later word");
    assert.equal(matchesGlob("ex*ple", "complex", "words"), false);
  });

  it("uses [A-Za-z0-9_] as word characters", () => {
    assert.equal(matchesGlob("alice", "alice_bob", "words"), false);
    assert.equal(matchesGlob("alice", "alice2", "words"), false);
    assert.equal(matchesGlob("alice", "alice-bob", "words"), true);
    assert.equal(matchesGlob("alice", "(alice)", "words"), true);
    assert.equal(matchesGlob("alice", "alice's", "words"), true);
    assert.equal(matchesGlob("alice", "aliceé", "words"), true, "non-ASCII letters are separators per the spec");
    assert.equal(matchesGlob("alice", "ALICE!", "words"), true);
    assert.equal(matchesGlob("alice", "malice", "words"), false);
  });

  it("lets patterns that start or end with punctuation match next to a word", () => {
    assert.equal(matchesGlob("@room", "hey @room", "words"), true);
    assert.equal(matchesGlob("@room", "hey@room", "words"), true);
    assert.equal(matchesGlob("@room", "@roomy", "words"), false);
    assert.equal(matchesGlob("@room", "@room:", "words"), true);
    assert.equal(matchesGlob("room", "@room", "words"), true);
  });

  it("runs in bounded time on patterns that make backtracking regexes explode", () => {
    const body = "a".repeat(20_000);
    const started = Date.now();
    assert.equal(matchesGlob("*a*a*a*a*a*a*a*a*b", body, "words"), false);
    assert.equal(matchesGlob("*a*a*a*a*a*a*a*a*b", body, "whole"), false);
    assert.ok(Date.now() - started < 2000);
  });
});

describe("property paths", () => {
  it("splits on dots and unescapes \\. and \\\\ only", () => {
    assert.deepEqual(parsePropertyPath("content.body"), ["content", "body"]);
    assert.deepEqual(parsePropertyPath("content.m\\.relates_to.rel_type"), ["content", "m.relates_to", "rel_type"]);
    assert.deepEqual(parsePropertyPath("content.m\\\\foo"), ["content", "m\\foo"]);
    assert.deepEqual(parsePropertyPath("content.m\\\\.foo"), ["content", "m\\", "foo"]);
    assert.deepEqual(parsePropertyPath("content.\\x"), ["content", "\\x"]);
    assert.deepEqual(parsePropertyPath("content.trailing\\"), ["content", "trailing\\"]);
    assert.deepEqual(parsePropertyPath("type"), ["type"]);
  });

  it("looks up nested and dotted properties without confusing them", () => {
    const ev = message("x", {
      "m.relates_to": { rel_type: "m.replace" },
      m: { relates_to: { rel_type: "m.thread" } },
      "back\\slash": "yes",
      list: [{ a: 1 }],
    });
    assert.equal(lookupEventProperty(ev, "content.m\\.relates_to.rel_type"), "m.replace");
    assert.equal(lookupEventProperty(ev, "content.m.relates_to.rel_type"), "m.thread");
    assert.equal(lookupEventProperty(ev, "content.back\\\\slash"), "yes");
    assert.equal(lookupEventProperty(ev, "content.back\\slash"), "yes", "an unknown escape is a literal backslash");
    assert.equal(lookupEventProperty(ev, "content.list.0.a"), undefined, "arrays are not indexed");
    assert.equal(lookupEventProperty(ev, "content.constructor"), undefined);
    assert.equal(lookupEventProperty(ev, "content.body.length"), undefined);
    assert.equal(lookupEventProperty(ev, "sender"), BOB);
  });

  it("lets rules tell an escaped dot from nesting", () => {
    const rules = emptyRuleset();
    rules.override.push(
      overrideRule({ rule_id: "escaped", conditions: [{ kind: "event_match", key: "content.a\\.b", pattern: "flat" }] }),
      overrideRule({ rule_id: "nested", conditions: [{ kind: "event_match", key: "content.a.b", pattern: "nested" }] }),
    );
    assert.equal(evaluate(message("x", { "a.b": "flat" }), {}, rules).ruleId, "escaped");
    assert.equal(evaluate(message("x", { a: { b: "nested" } }), {}, rules).ruleId, "nested");
    assert.equal(evaluate(message("x", { "a.b": "nested" }), {}, rules).ruleId, undefined);
    assert.equal(evaluate(message("x", { a: { b: "flat" } }), {}, rules).ruleId, undefined);
  });
});
