/**
 * Fetching other people's URLs for previews without becoming a proxy into private networks: every URL,
 * including each redirect target (followed by hand, at most five), is checked before it is requested;
 * bodies are read up to a size limit and everything runs under a time limit.
 *
 * What a Worker cannot do: its fetch() resolves host names itself, so the address finally connected to
 * is never seen here. With a DNS-over-HTTPS resolver configured, the names are resolved and checked
 * first, but the platform resolves them again (a name could change answers in between).
 */
import { MatrixError } from "../http/errors";
import { isBlockedAddress, type AddressPolicy } from "./ip-ranges";
import { checkUrl, parseDohAnswers } from "./url-safety";

export interface FetchLimits {
  addresses: AddressPolicy;
  maxBytes: number;
  timeoutMs: number;
  /** DNS-over-HTTPS JSON endpoint for checking what host names resolve to. */
  dnsResolver: string | undefined;
}

export interface FetchedResource {
  /** The URL finally answered, after redirects. */
  url: string;
  contentType: string;
  /** Undefined when the content type was not one the caller wanted (the body is then not read). */
  body: Uint8Array | undefined;
  /** The file name from Content-Disposition, if any. */
  fileName: string | undefined;
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

const blocked = (reason: string) => new MatrixError(403, "M_UNKNOWN", reason);
const failed = (reason: string) => new MatrixError(502, "M_UNKNOWN", reason);

async function checkResolvedAddresses(hostName: string, limits: FetchLimits, signal: AbortSignal): Promise<void> {
  const resolver = limits.dnsResolver;
  if (!resolver) return;
  const addresses = [];
  for (const type of ["A", "AAAA"]) {
    const query = new URL(resolver);
    query.searchParams.set("name", hostName);
    query.searchParams.set("type", type);
    let answer: unknown;
    try {
      const response = await fetch(query, { headers: { accept: "application/dns-json" }, signal });
      answer = response.ok ? await response.json() : undefined;
    } catch {
      answer = undefined;
    }
    addresses.push(...parseDohAnswers(answer));
  }
  if (addresses.length === 0) throw failed("DNS resolution failure during URL preview generation");
  // As Synapse does: one refused address refuses the name, whatever else it resolves to.
  if (addresses.some((address) => isBlockedAddress(address, limits.addresses))) {
    throw blocked("IP address blocked by IP blacklist entry");
  }
}

async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBytes) {
      await reader.cancel();
      throw new MatrixError(502, "M_TOO_LARGE", `Requested file is too large > ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** `filename` or `filename*` from a Content-Disposition header. */
export function fileNameFromDisposition(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*utf-8''([^;]+)/i.exec(header)?.[1];
  if (extended) {
    try {
      return decodeURIComponent(extended.trim());
    } catch {
      return undefined;
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
  return plain?.[1]?.replace(/\\(.)/g, "$1") ?? plain?.[2];
}

/**
 * GETs `url`, following redirects only to URLs that pass the same checks. `wanted` decides from the
 * Content-Type whether the body is worth reading.
 */
export async function fetchForPreview(
  url: string,
  limits: FetchLimits,
  wanted: (contentType: string) => boolean,
): Promise<FetchedResource> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let current = url;
  for (let redirects = 0; ; redirects++) {
    const verdict = checkUrl(current, limits.addresses);
    if (!verdict.allowed) throw blocked(verdict.reason);
    if (!verdict.address) await checkResolvedAddresses(verdict.url.hostname, limits, signal);
    let response: Response;
    try {
      response = await fetch(verdict.url, {
        redirect: "manual",
        signal,
        headers: {
          "User-Agent": "matrix-homeserver (bot; URL preview)",
          Accept: "text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.1",
          "Accept-Language": "en",
        },
      });
    } catch (error) {
      throw failed(`Failed to download content: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (REDIRECT_STATUSES.has(response.status)) {
      await response.body?.cancel();
      const location = response.headers.get("location");
      if (!location) throw failed("Redirect without a Location");
      if (redirects >= MAX_REDIRECTS) throw failed("Too many redirects");
      current = new URL(location, verdict.url).toString();
      continue;
    }
    if (response.status < 200 || response.status >= 300) {
      await response.body?.cancel();
      throw failed(`Got error ${response.status}`);
    }
    const contentType = response.headers.get("content-type") ?? "application/octet-stream";
    const fileName = fileNameFromDisposition(response.headers.get("content-disposition"));
    if (!wanted(contentType)) {
      await response.body?.cancel();
      return { url: verdict.url.toString(), contentType, body: undefined, fileName };
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > limits.maxBytes) {
      await response.body?.cancel();
      throw new MatrixError(502, "M_TOO_LARGE", `Requested file is too large > ${limits.maxBytes} bytes`);
    }
    try {
      return { url: verdict.url.toString(), contentType, body: await readLimited(response.body, limits.maxBytes), fileName };
    } catch (error) {
      if (error instanceof MatrixError) throw error;
      throw failed(`Failed to download content: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
