/**
 * Matrix identifier grammar (appendices, "Identifier Grammar"): server names, user
 * IDs, room IDs, room aliases and event IDs.
 *
 * Two levels of strictness exist because the spec tightened the grammar over time:
 * what a server must *accept* from federation (historical user IDs, any room/event
 * ID localpart without `:` or NUL) is wider than what it may *create*.
 */
import type { RoomVersion } from "./room-versions";

export const MAX_IDENTIFIER_BYTES = 255;

const utf8Encoder = new TextEncoder();

/** UTF-8 length of `text` (identifier limits are in bytes, not characters). */
export function utf8ByteLength(text: string): number {
  return utf8Encoder.encode(text).length;
}

// ---------------------------------------------------------------------------
// Server names
// ---------------------------------------------------------------------------

export type HostKind = "ipv4" | "ipv6" | "dns";

export interface ParsedServerName {
  /** The hostname as written; IPv6 literals keep their brackets. */
  host: string;
  /** Explicit port, if any. */
  port?: number;
  kind: HostKind;
}

const IPV4_SHAPE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const PORT = /^[0-9]{1,5}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function isValidIpv4(text: string): boolean {
  const match = IPV4_SHAPE.exec(text);
  return match !== null && match.slice(1).every((part) => Number(part) <= 255);
}

/** An IPv6 address (without brackets) in the text forms of RFC 3513 section 2.2. */
export function isValidIpv6(text: string): boolean {
  // The spec's grammar: 2*45 of hex digits, ':' and '.'.
  if (text.length < 2 || text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  let groupsText = text;
  if (text.includes(".")) {
    // An embedded IPv4 address may replace the last two 16-bit groups.
    const lastColon = text.lastIndexOf(":");
    if (lastColon < 0 || !isValidIpv4(text.slice(lastColon + 1))) return false;
    groupsText = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = groupsText.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  if (halves.length === 2) {
    const groups = [...groupsOf(halves[0]!), ...groupsOf(halves[1]!)];
    return groups.length <= 7 && groups.every((group) => HEX_GROUP.test(group));
  }
  const groups = groupsText.split(":");
  return groups.length === 8 && groups.every((group) => HEX_GROUP.test(group));
}

/** Parses `hostname [":" port]`; null if `name` is not a valid server name. */
export function parseServerName(name: string): ParsedServerName | null {
  let host: string;
  let portText: string | undefined;
  let kind: HostKind;
  if (name.startsWith("[")) {
    const close = name.indexOf("]");
    if (close < 0 || !isValidIpv6(name.slice(1, close))) return null;
    host = name.slice(0, close + 1);
    const rest = name.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return null;
      portText = rest.slice(1);
    }
    kind = "ipv6";
  } else {
    const colon = name.indexOf(":");
    host = colon < 0 ? name : name.slice(0, colon);
    if (colon >= 0) portText = name.slice(colon + 1);
    if (IPV4_SHAPE.test(host)) {
      if (!isValidIpv4(host)) return null;
      kind = "ipv4";
    } else {
      // Only the grammar's dns-name rule: the spec's label conventions are a SHOULD,
      // and rejecting names other servers accept could split a room's auth decisions.
      if (!DNS_NAME.test(host)) return null;
      kind = "dns";
    }
  }
  if (portText === undefined) return { host, kind };
  if (!PORT.test(portText)) return null;
  return { host, port: Number(portText), kind };
}

export function isValidServerName(name: string): boolean {
  return parseServerName(name) !== null;
}

// ---------------------------------------------------------------------------
// Common `&localpart:domain` identifiers
// ---------------------------------------------------------------------------

export interface ParsedIdentifier {
  localpart: string;
  serverName: string;
}

// In `u` mode this only matches surrogates that are not part of a pair, i.e. code
// units that are not valid Unicode scalar values.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Localparts of historical user IDs, room IDs and aliases: any non-surrogate code point except `:` and NUL. */
function isPermissiveLocalpart(localpart: string): boolean {
  return !localpart.includes("\u0000") && !LONE_SURROGATE.test(localpart);
}

/**
 * Splits `<sigil>localpart:server` at the first `:` (localparts cannot contain one;
 * server names can, before a port or inside an IPv6 literal). Checks the sigil, the
 * 255-byte limit and the server name, not the localpart.
 */
function splitIdentifier(id: string, sigil: string): ParsedIdentifier | null {
  if (!id.startsWith(sigil) || utf8ByteLength(id) > MAX_IDENTIFIER_BYTES) return null;
  const colon = id.indexOf(":");
  if (colon < 0) return null;
  const serverName = id.slice(colon + 1);
  if (!isValidServerName(serverName)) return null;
  return { localpart: id.slice(sigil.length, colon), serverName };
}

/** The server name of a `&localpart:server` identifier, or null. */
export function serverNameOf(id: string): string | null {
  const colon = id.indexOf(":");
  if (colon < 0) return null;
  const serverName = id.slice(colon + 1);
  return isValidServerName(serverName) ? serverName : null;
}

// ---------------------------------------------------------------------------
// User IDs
// ---------------------------------------------------------------------------

const CURRENT_LOCALPART = /^[a-z0-9._=\-/+]+$/;
const COMPLIANT_LOCALPART = /^[\u0021-\u007e]+$/;

/**
 * Parses a user ID under the historical grammar every server must accept over
 * federation: the localpart may be any non-surrogate code points except `:` and NUL,
 * even empty. Null if invalid even by that grammar.
 */
export function parseUserId(id: string): ParsedIdentifier | null {
  const parsed = splitIdentifier(id, "@");
  return parsed !== null && isPermissiveLocalpart(parsed.localpart) ? parsed : null;
}

/** Valid under the historical grammar (what must be accepted in events). */
export function isValidUserId(id: string): boolean {
  return parseUserId(id) !== null;
}

/**
 * Not "non-compliant" in the spec's sense: the localpart is non-empty and uses only
 * U+0021-U+007E. Non-compliant IDs are accepted in events but SHOULD NOT be passed to
 * clients outside events (e.g. device list updates).
 */
export function isCompliantUserId(id: string): boolean {
  const parsed = parseUserId(id);
  return parsed !== null && COMPLIANT_LOCALPART.test(parsed.localpart);
}

/** Valid under the current grammar (`a-z 0-9 . _ = - / +`): the form this server creates. */
export function isStrictUserId(id: string): boolean {
  const parsed = splitIdentifier(id, "@");
  return parsed !== null && CURRENT_LOCALPART.test(parsed.localpart);
}

/**
 * A localpart acceptable for a new account: non-empty, only `a-z 0-9 . _ = - / +`,
 * and, when `serverName` is given, short enough that the full user ID fits in 255 bytes.
 */
export function isValidLocalpart(localpart: string, serverName?: string): boolean {
  if (!CURRENT_LOCALPART.test(localpart)) return false;
  return serverName === undefined || utf8ByteLength(`@${localpart}:${serverName}`) <= MAX_IDENTIFIER_BYTES;
}

// ---------------------------------------------------------------------------
// Room IDs and aliases
// ---------------------------------------------------------------------------

/** Unpadded base64 of a SHA-256 hash is 43 characters. */
const URL_SAFE_HASH = /^[A-Za-z0-9_-]{43}$/;
const STANDARD_HASH = /^[A-Za-z0-9+/]{43}$/;

export interface ParsedRoomId {
  /** The part after `!` and before `:` (or the whole hash for v12-style IDs). */
  opaqueId: string;
  /** Absent for v12-style room IDs, which have no domain. */
  serverName?: string;
}

function parseLegacyRoomId(id: string): ParsedRoomId | null {
  const parsed = splitIdentifier(id, "!");
  if (parsed === null || !isPermissiveLocalpart(parsed.localpart)) return null;
  return { opaqueId: parsed.localpart, serverName: parsed.serverName };
}

function parseHashRoomId(id: string): ParsedRoomId | null {
  if (!id.startsWith("!")) return null;
  const opaqueId = id.slice(1);
  return URL_SAFE_HASH.test(opaqueId) ? { opaqueId } : null;
}

/**
 * Parses a room ID. With a room version, only that version's form is accepted
 * (v12: `!` + URL-safe base64 hash; earlier: `!opaque:server`); without, either.
 */
export function parseRoomId(id: string, roomVersion?: RoomVersion): ParsedRoomId | null {
  if (roomVersion === undefined) return parseHashRoomId(id) ?? parseLegacyRoomId(id);
  return roomVersion.roomIdFromCreateEvent ? parseHashRoomId(id) : parseLegacyRoomId(id);
}

export function isValidRoomId(id: string, roomVersion?: RoomVersion): boolean {
  return parseRoomId(id, roomVersion) !== null;
}

/** `#alias:server`; the localpart may be any non-surrogate code points except `:` and NUL. */
export function parseRoomAlias(alias: string): ParsedIdentifier | null {
  const parsed = splitIdentifier(alias, "#");
  return parsed !== null && isPermissiveLocalpart(parsed.localpart) ? parsed : null;
}

export function isValidRoomAlias(alias: string): boolean {
  return parseRoomAlias(alias) !== null;
}

// ---------------------------------------------------------------------------
// Event IDs
// ---------------------------------------------------------------------------

/**
 * Checks an event ID. With a room version, checks that version's format: v1/v2
 * `$opaque:server`, v3 `$` + 43 standard base64 characters, v4+ `$` + 43 URL-safe
 * base64 characters. Without one, only the common rules: `$`, non-empty, no NUL,
 * at most 255 bytes.
 */
export function isValidEventId(id: string, roomVersion?: RoomVersion): boolean {
  if (!id.startsWith("$") || id.length < 2 || utf8ByteLength(id) > MAX_IDENTIFIER_BYTES) return false;
  if (!isPermissiveLocalpart(id)) return false;
  switch (roomVersion?.eventIdFormat) {
    case undefined:
      return true;
    case "v1": {
      const parsed = splitIdentifier(id, "$");
      return parsed !== null && parsed.localpart !== "";
    }
    case "v3":
      return STANDARD_HASH.test(id.slice(1));
    case "v4":
      return URL_SAFE_HASH.test(id.slice(1));
  }
}

/** The server name in a v1/v2 event ID (`$opaque:server`), or null. */
export function eventIdServerName(id: string): string | null {
  const parsed = splitIdentifier(id, "$");
  return parsed === null ? null : parsed.serverName;
}
