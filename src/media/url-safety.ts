/**
 * Which URLs the previewer may fetch. Checked on the requested URL and again on every redirect target,
 * before any request is made: only http(s), no literal addresses in refused ranges, and no host names
 * that name the local machine or a private network by convention.
 */
import { isBlockedAddress, parseIpAddress, type AddressPolicy, type IpAddress } from "./ip-ranges";

export type UrlVerdict =
  | { allowed: true; url: URL; /** Set when the host is a literal address; otherwise a name to resolve. */ address: IpAddress | undefined }
  | { allowed: false; reason: string };

/**
 * Special-use names (RFC 6761, RFC 8375, common private zones) that can only mean this machine or a
 * private network; a name without a dot is resolved through local search domains, so it is refused too.
 */
const PRIVATE_NAME_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".localdomain", ".lan", ".intranet", ".corp"];

export function isPrivateHostName(hostName: string): boolean {
  const name = hostName.toLowerCase().replace(/\.$/, "");
  return name === "localhost" || !name.includes(".") || PRIVATE_NAME_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

export function checkUrl(raw: string, policy: AddressPolicy, base?: string): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    return { allowed: false, reason: "Invalid URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { allowed: false, reason: "Only http and https URLs can be previewed" };
  // URL parsing has already normalised every IPv4 spelling (0x7f.1, 2130706433, 127.1) to dotted decimal.
  const address = parseIpAddress(url.hostname);
  if (address) {
    return isBlockedAddress(address, policy)
      ? { allowed: false, reason: "IP address blocked by IP blacklist entry" }
      : { allowed: true, url, address };
  }
  if (isPrivateHostName(url.hostname)) return { allowed: false, reason: "Host name refers to a private network" };
  return { allowed: true, url, address: undefined };
}

/** The A/AAAA answers of a DNS-over-HTTPS JSON response (RFC 8427 style, as Cloudflare and Google serve it). */
export function parseDohAnswers(body: unknown): IpAddress[] {
  if (typeof body !== "object" || body === null) return [];
  const answers = (body as { Answer?: unknown }).Answer;
  if (!Array.isArray(answers)) return [];
  const addresses: IpAddress[] = [];
  for (const answer of answers) {
    if (typeof answer !== "object" || answer === null) continue;
    const { type, data } = answer as { type?: unknown; data?: unknown };
    if ((type === 1 || type === 28) && typeof data === "string") {
      const address = parseIpAddress(data);
      if (address) addresses.push(address);
    }
  }
  return addresses;
}
