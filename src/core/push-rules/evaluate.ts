/**
 * Push rule evaluation (client-server API, "Push Rules" and "Conditions"): finds the
 * first enabled rule that matches an event for one user and interprets its actions.
 * Pure: everything about the room and the user comes in through the context.
 */
import type { JsonValue } from "../events/pdu";
import {
  PUSH_RULE_KINDS,
  type PushAction,
  type PushCondition,
  type PushEvaluableEvent,
  type PushEvaluationContext,
  type PushEvaluationResult,
  type PushRule,
  type PushRuleKind,
} from "./types";

// ---------------------------------------------------------------------------
// Dot-separated property paths
// ---------------------------------------------------------------------------

/**
 * Splits a dot-separated property path (appendices, "Dot-separated property paths")
 * into property names: `.` separates, `\.` is a literal dot, `\\` a literal
 * backslash, and any other backslash is itself literal (`\x` stays `\x`).
 */
export function parsePropertyPath(key: string): string[] {
  const names: string[] = [];
  let current = "";
  for (let i = 0; i < key.length; i++) {
    const char = key[i];
    if (char === "\\") {
      const escaped = key[i + 1];
      if (escaped === "." || escaped === "\\") {
        current += escaped;
        i++;
      } else {
        current += char;
      }
    } else if (char === ".") {
      names.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  names.push(current);
  return names;
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The value at a dot-separated path of the event, or undefined if any step is missing
 * or not an object. Only own properties count (so `content.constructor` is absent),
 * and arrays are not indexed into: paths name object properties only.
 */
export function lookupEventProperty(event: PushEvaluableEvent, key: string): unknown {
  let current: unknown = event;
  for (const name of parsePropertyPath(key)) {
    if (!isPlainObject(current) || !Object.hasOwn(current, name)) return undefined;
    current = current[name];
  }
  return current;
}

// ---------------------------------------------------------------------------
// Glob matching
// ---------------------------------------------------------------------------

type GlobToken = { kind: "anyRun" } | { kind: "anyOne" } | { kind: "literal"; char: string };

/**
 * Case folding per code point. A character whose lowercase form is longer (U+0130
 * becomes "i̇") is kept as it is, so that every folded string has exactly one entry
 * per character of the original and `?` keeps meaning "one character".
 */
function foldCodePoint(char: string): string {
  const lower = char.toLowerCase();
  return lower.length === char.length ? lower : char;
}

/** The spec's word characters: `[A-Z]`, `[a-z]`, `[0-9]` and `_` (ASCII only). */
function isWordCharacter(char: string): boolean {
  if (char.length !== 1) return false;
  const code = char.charCodeAt(0);
  return (
    (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f
  );
}

/** A string prepared for matching: folded characters, and which originals are word characters. */
interface PreparedText {
  folded: string[];
  isWord: boolean[];
  joined: string;
}

function prepareText(text: string): PreparedText {
  const chars = Array.from(text);
  const folded = chars.map(foldCodePoint);
  return { folded, isWord: chars.map(isWordCharacter), joined: folded.join("") };
}

function compileGlob(pattern: string, wildcards: boolean): GlobToken[] {
  const tokens: GlobToken[] = [];
  for (const char of pattern) {
    if (wildcards && char === "*") {
      // `**` is `*`; collapsing keeps the state set small.
      if (tokens.at(-1)?.kind !== "anyRun") tokens.push({ kind: "anyRun" });
    } else if (wildcards && char === "?") {
      tokens.push({ kind: "anyOne" });
    } else {
      tokens.push({ kind: "literal", char: foldCodePoint(char) });
    }
  }
  return tokens;
}

/**
 * A position between characters is a word boundary if it is at either end of the
 * value or next to a non-word character. Accepting a boundary on either side lets a
 * pattern that itself starts or ends with a non-word character (`@room`, `alice:`)
 * match wherever it appears as a separate token, as Synapse does.
 */
function isBoundary(text: PreparedText, position: number): boolean {
  const length = text.isWord.length;
  return position === 0 || position === length || !text.isWord[position - 1] || !text.isWord[position];
}

/**
 * Runs the glob as a set of states ("first i tokens matched") over the text, so the
 * cost is O(text length × pattern length) whatever the pattern. A backtracking regex
 * would be exponential for patterns like `*a*a*a*b` on long bodies, and patterns are
 * user-supplied while bodies come from anyone in the room.
 *
 * Whole: the pattern must match all of the text. Words: it must match some substring
 * that starts and ends at word boundaries.
 */
function runGlob(tokens: readonly GlobToken[], text: PreparedText, wordWise: boolean): boolean {
  const length = text.folded.length;
  const last = tokens.length;
  let active = new Uint8Array(last + 1);
  let next = new Uint8Array(last + 1);
  for (let position = 0; ; position++) {
    const atBoundary = wordWise ? isBoundary(text, position) : position === 0 || position === length;
    if (position === 0 || (wordWise && atBoundary)) active[0] = 1;
    // `*` may match nothing: a state before a `*` is also a state after it.
    for (let i = 0; i < last; i++) {
      if (active[i] === 1 && tokens[i]?.kind === "anyRun") active[i + 1] = 1;
    }
    if (active[last] === 1 && atBoundary && (wordWise || position === length)) return true;
    if (position === length) return false;

    const char = text.folded[position];
    next.fill(0);
    let anyActive = false;
    for (let i = 0; i < last; i++) {
      if (active[i] !== 1) continue;
      const token = tokens[i];
      if (token === undefined) continue;
      if (token.kind === "anyRun") {
        next[i] = 1;
        anyActive = true;
      } else if (token.kind === "anyOne" || token.char === char) {
        next[i + 1] = 1;
        anyActive = true;
      }
    }
    [active, next] = [next, active];
    // Whole-value matching can only start at 0, so with no live state it has failed.
    if (!anyActive && !wordWise) return false;
  }
}

function matchPrepared(pattern: string, text: PreparedText, wordWise: boolean, wildcards: boolean): boolean {
  const tokens = compileGlob(pattern, wildcards);
  if (tokens.every((token) => token.kind === "literal")) {
    // Without wildcards, whole-value matching is equality and word matching needs
    // at least a substring; both are cheap checks on the folded strings.
    const literal = tokens.map((token) => (token.kind === "literal" ? token.char : "")).join("");
    if (!wordWise) return literal === text.joined;
    if (!text.joined.includes(literal)) return false;
  }
  return runGlob(tokens, text, wordWise);
}

/**
 * Case-insensitive glob match (appendices, "Glob-style matching": `*` is any run of
 * characters, `?` exactly one). `"whole"` matches the entire value; `"words"` is the
 * `content.body` rule: any substring starting and ending at a word boundary, where
 * word characters are `[A-Za-z0-9_]`.
 */
export function matchesGlob(pattern: string, value: string, mode: "whole" | "words"): boolean {
  return matchPrepared(pattern, prepareText(value), mode === "words", true);
}

// ---------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------

type Scalar = string | number | boolean | null;

/** Canonical JSON scalars: strings, booleans, null, and integers in [-(2^53)+1, 2^53-1]. */
function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isSafeInteger(value))
  );
}

/** Exact, type-strict equality (`"true"` is not `true`, `1` is not `true`). */
function scalarEquals(a: unknown, b: unknown): boolean {
  return isScalar(a) && isScalar(b) && a === b;
}

const MEMBER_COUNT = /^(==|<=|>=|<|>)?([0-9]+)$/;

function matchesMemberCount(is: string, memberCount: number): boolean {
  const parsed = MEMBER_COUNT.exec(is);
  if (parsed === null) return false;
  const bound = Number(parsed[2]);
  switch (parsed[1] ?? "==") {
    case "<":
      return memberCount < bound;
    case ">":
      return memberCount > bound;
    case "<=":
      return memberCount <= bound;
    case ">=":
      return memberCount >= bound;
    default:
      return memberCount === bound;
  }
}

/**
 * Only `room` has a level in the power levels schema (50); Synapse uses 50 for every
 * key, and so do we, so a missing key never lets everyone notify.
 */
const DEFAULT_NOTIFICATION_LEVEL = 50;

/** Per-evaluation state: the event, the recipient, and texts already prepared. */
interface Evaluation {
  event: PushEvaluableEvent;
  context: PushEvaluationContext;
  preparedTexts: Map<string, PreparedText>;
}

function prepared(evaluation: Evaluation, text: string): PreparedText {
  let result = evaluation.preparedTexts.get(text);
  if (result === undefined) {
    result = prepareText(text);
    evaluation.preparedTexts.set(text, result);
  }
  return result;
}

function matchesEventMatch(evaluation: Evaluation, key: string, pattern: string): boolean {
  const value = lookupEventProperty(evaluation.event, key);
  // Absent or not a string: no match, even for `*`.
  if (typeof value !== "string") return false;
  return matchPrepared(pattern, prepared(evaluation, value), key === "content.body", true);
}

function matchesCondition(evaluation: Evaluation, condition: PushCondition): boolean {
  // Parameters are checked at run time: rules come from storage and clients, and a
  // condition with missing or mistyped parameters must simply not match.
  switch (condition.kind) {
    case "event_match": {
      const { key, pattern } = condition;
      return typeof key === "string" && typeof pattern === "string" && matchesEventMatch(evaluation, key, pattern);
    }
    case "event_property_is": {
      const { key, value } = condition;
      if (typeof key !== "string" || !isScalar(value)) return false;
      return scalarEquals(lookupEventProperty(evaluation.event, key), value);
    }
    case "event_property_contains": {
      const { key, value } = condition;
      if (typeof key !== "string" || !isScalar(value)) return false;
      const array = lookupEventProperty(evaluation.event, key);
      // Non-scalar entries are ignored (scalarEquals is false for them).
      return Array.isArray(array) && array.some((entry: unknown) => scalarEquals(entry, value));
    }
    case "contains_display_name": {
      const displayName = evaluation.context.displayName;
      const body = lookupEventProperty(evaluation.event, "content.body");
      // An empty display name would match every body.
      if (displayName === undefined || displayName === "" || typeof body !== "string") return false;
      // The display name is text, not a glob: `*` in a name is a literal star.
      return matchPrepared(displayName, prepared(evaluation, body), true, false);
    }
    case "room_member_count": {
      const { is } = condition;
      return typeof is === "string" && matchesMemberCount(is, evaluation.context.roomMemberCount);
    }
    case "sender_notification_permission": {
      const { key } = condition;
      if (typeof key !== "string") return false;
      const levels = evaluation.context.notificationPowerLevels;
      const configured = Object.hasOwn(levels, key) ? levels[key] : undefined;
      const required = typeof configured === "number" ? configured : DEFAULT_NOTIFICATION_LEVEL;
      return evaluation.context.senderPowerLevel >= required;
    }
    default:
      // Unrecognised conditions never match, disabling their rule.
      return false;
  }
}

// ---------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------

/**
 * The body-based mention rules that v1.7 deprecated: they "should only be enabled if
 * the event does not have an `m.mentions` property" (and v1.17 dropped them).
 */
const LEGACY_MENTION_RULES: ReadonlySet<string> = new Set([
  "override/.m.rule.contains_display_name",
  "override/.m.rule.roomnotif",
  "content/.m.rule.contains_user_name",
]);

function matchesRule(evaluation: Evaluation, kind: PushRuleKind, rule: PushRule): boolean {
  const { event } = evaluation;
  switch (kind) {
    case "override":
    case "underride":
      return (rule.conditions ?? []).every((condition) => matchesCondition(evaluation, condition));
    case "content":
      // Content rules carry an implicit word-wise `content.body` match on `pattern`.
      return typeof rule.pattern === "string" && matchesEventMatch(evaluation, "content.body", rule.pattern);
    case "room":
      return rule.rule_id === event.room_id;
    case "sender":
      return rule.rule_id === event.sender;
  }
}

/** Historical actions that clients and servers must ignore. */
const IGNORED_ACTIONS: ReadonlySet<string> = new Set(["dont_notify", "coalesce"]);

function interpretActions(rule: PushRule, kind: PushRuleKind): PushEvaluationResult {
  const actions: PushAction[] = [];
  const tweaks: Record<string, JsonValue> = {};
  let notify = false;
  for (const action of rule.actions) {
    if (typeof action === "string") {
      if (IGNORED_ACTIONS.has(action)) continue;
      if (action === "notify") notify = true;
      actions.push(action);
    } else if (isPlainObject(action) && typeof action.set_tweak === "string") {
      // A tweak without a value means true (the spec says so for `highlight`).
      tweaks[action.set_tweak] = action.value === undefined ? true : action.value;
      actions.push(action);
    }
  }
  const sound = tweaks["sound"];
  return {
    notify,
    // Highlighting is part of a notification; without `notify` there is nothing to
    // count or push, so a lone highlight tweak does not make the event highlighted.
    highlight: notify && tweaks["highlight"] === true,
    ...(typeof sound === "string" ? { sound } : {}),
    ruleId: rule.rule_id,
    ruleKind: kind,
    actions,
    tweaks,
  };
}

/**
 * Evaluates `ruleset` (each kind already in priority order; see combineRulesets) for
 * `event` on behalf of `context.userId`. The first enabled rule that matches, in the
 * kind order override, content, room, sender, underride, decides; if none matches the
 * event does not notify. The user's own events never notify.
 */
export function evaluatePushRules(
  ruleset: Readonly<Record<PushRuleKind, readonly PushRule[]>>,
  event: PushEvaluableEvent,
  context: PushEvaluationContext,
): PushEvaluationResult {
  if (event.sender === context.userId) return { notify: false, highlight: false, actions: [], tweaks: {} };

  const evaluation: Evaluation = { event, context, preparedTexts: new Map() };
  const hasMentions = Object.hasOwn(event.content, "m.mentions");
  for (const kind of PUSH_RULE_KINDS) {
    for (const rule of ruleset[kind]) {
      if (!rule.enabled) continue;
      if (hasMentions && LEGACY_MENTION_RULES.has(`${kind}/${rule.rule_id}`)) continue;
      if (matchesRule(evaluation, kind, rule)) return interpretActions(rule, kind);
    }
  }
  return { notify: false, highlight: false, actions: [], tweaks: {} };
}
