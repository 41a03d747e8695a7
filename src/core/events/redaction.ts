/**
 * The redaction algorithm ("Redactions" in each room version's spec), which strips an
 * event down to the keys the protocol needs. It defines what event signatures and
 * reference hashes (hence v3+ event IDs) cover, so it must match other servers exactly.
 *
 * Differences by room version:
 * - v1-v5: m.room.aliases keeps `aliases` (removed in v6, MSC2432).
 * - v8+: m.room.join_rules keeps `allow`.
 * - v9+: m.room.member keeps `join_authorised_via_users_server`.
 * - v11+ (MSC2176/MSC3821/MSC3989): top-level `origin`, `membership` and `prev_state`
 *   are no longer kept; m.room.create keeps its whole content (instead of only
 *   `creator`); m.room.power_levels also keeps `invite`; m.room.redaction keeps
 *   `content.redacts`; m.room.member keeps `third_party_invite.signed`.
 * - v12 uses the v11 algorithm unchanged.
 */
import type { RoomVersion } from "../room-versions";
import type { JsonObject, PDU } from "./pdu";

/** Top-level keys every room version keeps. */
const ALWAYS_KEPT_TOP_LEVEL_KEYS: readonly string[] = [
  "event_id",
  "type",
  "room_id",
  "sender",
  "state_key",
  "content",
  "hashes",
  "signatures",
  "depth",
  "prev_events",
  "auth_events",
  "origin_server_ts",
];

/** Top-level keys kept only before room version 11. */
const LEGACY_TOP_LEVEL_KEYS: readonly string[] = ["prev_state", "origin", "membership"];

type Content = Record<string, unknown>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pick(content: Content, keys: readonly string[]): Content {
  const kept: Content = {};
  for (const key of keys) {
    if (Object.hasOwn(content, key)) kept[key] = content[key];
  }
  return kept;
}

/** The content that survives redaction for an event of `type`. */
export function redactContent(type: string, content: Content, roomVersion: RoomVersion): Content {
  switch (type) {
    case "m.room.member": {
      const kept = pick(
        content,
        roomVersion.restrictedJoinRuleRedactionFix ? ["membership", "join_authorised_via_users_server"] : ["membership"],
      );
      if (roomVersion.updatedRedactionRules) {
        // Only `signed` survives inside third_party_invite. An object without `signed`
        // is kept as `{}`, as Synapse does, so the reference hashes agree.
        const invite = content["third_party_invite"];
        if (isObject(invite)) kept["third_party_invite"] = pick(invite, ["signed"]);
      }
      return kept;
    }
    case "m.room.create":
      // v11+: the whole content is protected (room_version, m.federate, predecessor,
      // additional_creators, ...) because the auth rules depend on it.
      return roomVersion.updatedRedactionRules ? { ...content } : pick(content, ["creator"]);
    case "m.room.join_rules":
      return pick(content, roomVersion.restrictedJoinRule ? ["join_rule", "allow"] : ["join_rule"]);
    case "m.room.power_levels": {
      const keys = ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"];
      if (roomVersion.updatedRedactionRules) keys.push("invite");
      return pick(content, keys);
    }
    case "m.room.aliases":
      return roomVersion.redactionKeepsAliases ? pick(content, ["aliases"]) : {};
    case "m.room.history_visibility":
      return pick(content, ["history_visibility"]);
    case "m.room.redaction":
      return roomVersion.updatedRedactionRules ? pick(content, ["redacts"]) : {};
    default:
      return {};
  }
}

/**
 * Returns the redacted form of an event: a new top-level object and a new `content`
 * object. Nested kept values (e.g. power level `users`) are shared with the input,
 * so treat events as immutable. `unsigned` is removed like every other unlisted key;
 * callers that serve redacted events to clients add their own `unsigned` afterwards.
 */
export function redactEvent(pdu: PDU, roomVersion: RoomVersion): PDU;
export function redactEvent(event: JsonObject, roomVersion: RoomVersion): JsonObject;
export function redactEvent(event: PDU | JsonObject, roomVersion: RoomVersion): PDU | JsonObject {
  const source = event as Record<string, unknown>;
  const redacted: Record<string, unknown> = {};
  const keptKeys = roomVersion.updatedRedactionRules
    ? ALWAYS_KEPT_TOP_LEVEL_KEYS
    : [...ALWAYS_KEPT_TOP_LEVEL_KEYS, ...LEGACY_TOP_LEVEL_KEYS];
  for (const key of keptKeys) {
    if (Object.hasOwn(source, key) && source[key] !== undefined) redacted[key] = source[key];
  }
  const type = source["type"];
  const content = source["content"];
  redacted["content"] = typeof type === "string" && isObject(content) ? redactContent(type, content, roomVersion) : {};
  return redacted as unknown as PDU | JsonObject;
}
