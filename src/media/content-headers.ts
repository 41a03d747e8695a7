/**
 * Response headers for serving uploaded content safely (spec: "Serving inline content"): only a short
 * list of inert types may be displayed inline; everything else is an attachment, and every response is
 * sandboxed so that uploaded HTML or SVG cannot run script in the homeserver's origin.
 */

/** The spec's (and Synapse's) types a browser may render inline. SVG is deliberately absent: it can carry script. */
export const INLINE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  "text/css",
  "text/plain",
  "text/csv",
  "application/json",
  "application/ld+json",
  "image/jpeg",
  "image/gif",
  "image/png",
  "image/apng",
  "image/webp",
  "image/avif",
  "video/mp4",
  "video/webm",
  "video/ogg",
  "video/quicktime",
  "audio/mp4",
  "audio/webm",
  "audio/aac",
  "audio/mpeg",
  "audio/ogg",
  "audio/wave",
  "audio/wav",
  "audio/x-wav",
  "audio/x-pn-wav",
  "audio/flac",
  "audio/x-flac",
]);

/** Text types served with an explicit UTF-8 charset when the upload named none (as Synapse does). */
const TEXT_CONTENT_TYPES: ReadonlySet<string> = new Set([
  "text/css",
  "text/csv",
  "text/html",
  "text/calendar",
  "text/plain",
  "text/javascript",
  "application/json",
  "application/ld+json",
  "application/rtf",
  "image/svg+xml",
  "text/xml",
]);

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** The type/subtype of a Content-Type value, lower-cased and without parameters. */
export function essence(contentType: string): string {
  return (contentType.split(";", 1)[0] ?? "").trim().toLowerCase();
}

/**
 * Whether a client-supplied Content-Type can be stored and served back verbatim: one line of printable
 * ASCII shaped like `type/subtype[; parameters]`.
 */
export function isAcceptableContentType(contentType: string): boolean {
  return contentType.length <= 255 && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+( *;[\x20-\x7e]*)?$/.test(contentType);
}

export function isInlineContentType(contentType: string): boolean {
  return INLINE_CONTENT_TYPES.has(essence(contentType));
}

/** The Content-Type to serve: the upload's own, with a charset added to bare text types. */
export function servedContentType(contentType: string): string {
  return TEXT_CONTENT_TYPES.has(contentType.toLowerCase()) ? `${contentType}; charset=UTF-8` : contentType;
}

/** RFC 2616 token characters: printable ASCII except separators. */
function isToken(value: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value);
}

/** RFC 5987 value-chars: attr-char stays, everything else is %-encoded UTF-8. */
function encodeExtValue(value: string): string {
  return Array.from(new TextEncoder().encode(value), (byte) => {
    const char = String.fromCharCode(byte);
    return /[A-Za-z0-9!#$&+\-.^_`|~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
}

/**
 * `inline` or `attachment`, with the file name as an RFC 6266 `filename` token when it is one and as
 * `filename*=utf-8''…` otherwise (never a quoted-string, which older clients misparse).
 */
export function contentDisposition(disposition: "inline" | "attachment", fileName: string | undefined): string {
  if (!fileName) return disposition;
  return isToken(fileName) ? `${disposition}; filename=${fileName}` : `${disposition}; filename*=utf-8''${encodeExtValue(fileName)}`;
}

/** Headers every media response carries, whatever its content. */
export const MEDIA_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';",
  // The same restriction for browsers that only know the older header name.
  "X-Content-Security-Policy": "sandbox;",
  "X-Content-Type-Options": "nosniff",
  // Web clients on other origins embed media fetched with credentials-free blob URLs or <img>.
  "Cross-Origin-Resource-Policy": "cross-origin",
  "Referrer-Policy": "no-referrer",
  "X-Robots-Tag": "noindex, nofollow, noarchive, noimageindex",
};

/**
 * Headers for serving stored content: its type (as uploaded), a disposition that only allows inert
 * types inline, and the security headers.
 */
export function downloadHeaders(contentType: string, fileName: string | undefined): Record<string, string> {
  return {
    ...MEDIA_SECURITY_HEADERS,
    "Content-Type": servedContentType(contentType),
    "Content-Disposition": contentDisposition(isInlineContentType(contentType) ? "inline" : "attachment", fileName),
    // Media never changes; shared caches must still ask us (and so re-check the access token) each time.
    "Cache-Control": "public, max-age=86400, s-maxage=0, proxy-revalidate",
  };
}
