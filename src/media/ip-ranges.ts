/**
 * IP addresses and CIDR ranges, for refusing URL previews of private, loopback and reserved addresses
 * (Synapse's `url_preview_ip_range_blacklist` / `_whitelist`). Addresses are held as bigints so IPv4 and
 * IPv6 share one containment test.
 */

export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface IpRange {
  version: 4 | 6;
  /** The network address, host bits cleared. */
  network: bigint;
  prefixLength: number;
  /** As written in the configuration, for messages. */
  text: string;
}

const BITS = { 4: 32, 6: 128 } as const;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // Only canonical dotted-decimal: URL parsing already turns 0x7f.1 or 2130706433 into this form.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  let body = text;
  const groups: number[] = [];
  // A trailing dotted IPv4 part (e.g. ::ffff:127.0.0.1) stands for the last two groups.
  const lastColon = body.lastIndexOf(":");
  if (lastColon !== -1 && body.slice(lastColon + 1).includes(".")) {
    const ipv4 = parseIpv4(body.slice(lastColon + 1));
    if (ipv4 === undefined) return undefined;
    body = `${body.slice(0, lastColon + 1)}${(ipv4 >> 16n).toString(16)}:${(ipv4 & 0xffffn).toString(16)}`;
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const result: number[] = [];
    for (const group of half.split(":")) {
      if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
      result.push(parseInt(group, 16));
    }
    return result;
  };
  const head = parseGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (!head || !tail) return undefined;
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups.push(...head, ...new Array<number>(missing).fill(0), ...tail);
  } else {
    if (head.length !== 8) return undefined;
    groups.push(...head);
  }
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** Parses a literal IPv4 address or IPv6 address (with or without brackets); undefined for anything else. */
export function parseIpAddress(text: string): IpAddress | undefined {
  const unbracketed = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (unbracketed.includes(":")) {
    // A zone index (fe80::1%eth0) names a local interface: never something to fetch from.
    if (unbracketed.includes("%")) return undefined;
    const value = parseIpv6(unbracketed);
    return value === undefined ? undefined : { version: 6, value };
  }
  const value = parseIpv4(unbracketed);
  return value === undefined ? undefined : { version: 4, value };
}

/** Parses `address/prefix` (or a bare address, meaning a single host); throws on anything else. */
export function parseCidr(text: string): IpRange {
  const [addressText = "", prefixText, ...rest] = text.trim().split("/");
  const address = parseIpAddress(addressText);
  const bits = address ? BITS[address.version] : 0;
  const prefixLength = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!address || rest.length > 0 || !(prefixLength >= 0 && prefixLength <= bits)) {
    throw new Error(`not an IP range: ${JSON.stringify(text)}`);
  }
  const hostMask = (1n << BigInt(bits - prefixLength)) - 1n;
  return { version: address.version, network: address.value & ~hostMask, prefixLength, text: text.trim() };
}

export function rangeContains(range: IpRange, address: IpAddress): boolean {
  if (range.version !== address.version) return false;
  const shift = BigInt(BITS[range.version] - range.prefixLength);
  return address.value >> shift === range.network >> shift;
}

/**
 * Never previewed, whatever the configuration adds: Synapse's recommended blacklist plus the remaining
 * IANA special-purpose ranges. IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, Teredo)
 * are refused outright; 6to4 addresses are checked by the IPv4 address they carry.
 */
export const BUILTIN_BLOCKED_RANGES: readonly IpRange[] = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8", // RFC 1918
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local (and cloud metadata services)
  "172.16.0.0/12", // RFC 1918
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation
  "192.88.99.0/24", // 6to4 relay anycast
  "192.168.0.0/16", // RFC 1918
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24", // documentation
  "203.0.113.0/24", // documentation
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, including broadcast
  "::/128", // unspecified
  "::1/128", // loopback
  "::/96", // IPv4-compatible (deprecated)
  "::ffff:0:0/96", // IPv4-mapped
  "64:ff9b::/96", // NAT64
  "64:ff9b:1::/48", // local-use NAT64
  "100::/64", // discard-only
  "2001::/32", // Teredo
  "2001:db8::/32", // documentation
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "fec0::/10", // site-local (deprecated)
  "ff00::/8", // multicast
].map(parseCidr);

const SIX_TO_FOUR = parseCidr("2002::/16");

export interface AddressPolicy {
  /** Refused in addition to the built-in ranges. */
  blacklist: readonly IpRange[];
  /** Allowed even when a built-in or configured range refuses them (as Synapse's whitelist). */
  whitelist: readonly IpRange[];
}

/** Whether an address must not be contacted. */
export function isBlockedAddress(address: IpAddress, policy: AddressPolicy): boolean {
  if (policy.whitelist.some((range) => rangeContains(range, address))) return false;
  const blocked = (candidate: IpAddress) =>
    BUILTIN_BLOCKED_RANGES.some((range) => rangeContains(range, candidate)) ||
    policy.blacklist.some((range) => rangeContains(range, candidate));
  if (blocked(address)) return true;
  if (rangeContains(SIX_TO_FOUR, address)) {
    const embedded: IpAddress = { version: 4, value: (address.value >> 80n) & 0xffffffffn };
    return blocked(embedded);
  }
  return false;
}
