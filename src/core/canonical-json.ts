/**
 * Matrix canonical JSON (appendices, "Canonical JSON"): the byte string that
 * hashes and signatures are computed over.
 *
 * - object keys sorted by Unicode code point (not UTF-16 code unit),
 * - no insignificant whitespace,
 * - strings escape only `"`, `\` and U+0000-U+001F (short forms for \b \f \n \r \t,
 *   `\u00xx` with lowercase hex otherwise); everything else is written as UTF-8,
 * - numbers are integers written without exponent or fraction; `-0` is written `0`,
 * - strict mode (room versions 6+) additionally rejects integers outside
 *   [-(2^53)+1, 2^53-1].
 */

export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
  /** JSON-pointer-like location of the offending value, e.g. `/content/body`. */
  readonly path: string;
  constructor(message: string, path: string) {
    super(path === "" ? message : `${message} at ${path}`);
    this.path = path;
  }
}

export interface CanonicalJsonOptions {
  /**
   * Reject integers outside [-(2^53)+1, 2^53-1]. Defaults to true; pass false only
   * for events of room versions 1-5, which servers must still be able to handle.
   */
  strict?: boolean;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/**
 * Orders strings by Unicode code point. JavaScript's default comparison orders by
 * UTF-16 code unit, which differs when a surrogate pair (an astral code point,
 * U+10000 and above) is compared with a BMP character in U+E000-U+FFFF: the
 * surrogate (0xD800-0xDFFF) sorts lower as a code unit but the astral code point is
 * higher. Remapping the first differing code unit fixes that without decoding.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const unitA = a.charCodeAt(i);
    const unitB = b.charCodeAt(i);
    if (unitA !== unitB) {
      return codePointOrderKey(unitA) - codePointOrderKey(unitB);
    }
  }
  return a.length - b.length;
}

function codePointOrderKey(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000; // surrogates above U+FFFF
  if (unit >= 0xe000) return unit - 0x800; // U+E000-U+FFFF below surrogates
  return unit;
}

// In `u` mode a surrogate class only matches surrogates that are not part of a pair.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function encodeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) {
    // Cannot be represented in UTF-8; other servers (e.g. Python's encoder) fail on it too.
    throw new CanonicalJsonError("string contains a lone UTF-16 surrogate", path);
  }
  // For well-formed strings JSON.stringify escapes exactly the set canonical JSON
  // requires (", \, U+0000-U+001F with short forms where they exist, lowercase \u00xx)
  // and leaves every other code point, including U+007F and U+2028/9, unescaped.
  return JSON.stringify(value);
}

function encodeInteger(value: bigint, strict: boolean, path: string): string {
  if (strict && (value > MAX_SAFE || value < MIN_SAFE)) {
    throw new CanonicalJsonError(`integer ${value} is outside [-(2^53)+1, 2^53-1]`, path);
  }
  return value.toString();
}

function encodeNumber(value: number, strict: boolean, path: string): string {
  if (!Number.isFinite(value)) {
    throw new CanonicalJsonError(`${value} is not allowed`, path);
  }
  if (!Number.isInteger(value)) {
    throw new CanonicalJsonError(`non-integer number ${value} is not allowed`, path);
  }
  if (Number.isSafeInteger(value)) {
    // `${-0}` is "0", which is what the spec requires for negative zero.
    return `${value}`;
  }
  // Outside the safe range String() would use exponent notation (1e+21);
  // BigInt prints every digit of the double's exact integer value.
  return encodeInteger(BigInt(value), strict, path);
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function escapePathSegment(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function encodeValue(value: unknown, strict: boolean, path: string, out: string[]): void {
  switch (typeof value) {
    case "string":
      out.push(encodeString(value, path));
      return;
    case "number":
      out.push(encodeNumber(value, strict, path));
      return;
    case "bigint":
      out.push(encodeInteger(value, strict, path));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "object": {
      if (value === null) {
        out.push("null");
        return;
      }
      if (Array.isArray(value)) {
        out.push("[");
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(",");
          const item: unknown = value[i];
          if (item === undefined) {
            throw new CanonicalJsonError("undefined is not a JSON value", `${path}/${i}`);
          }
          encodeValue(item, strict, `${path}/${i}`, out);
        }
        out.push("]");
        return;
      }
      if (!isPlainObject(value)) {
        throw new CanonicalJsonError("only plain objects can be encoded", path);
      }
      // Keys whose value is undefined are omitted, as JSON.stringify does, so that
      // optional TypeScript properties set to undefined do not change the encoding.
      const keys = Object.keys(value)
        .filter((key) => value[key] !== undefined)
        .sort(compareCodePoints);
      out.push("{");
      keys.forEach((key, index) => {
        if (index > 0) out.push(",");
        const childPath = `${path}/${escapePathSegment(key)}`;
        out.push(encodeString(key, childPath), ":");
        encodeValue(value[key], strict, childPath, out);
      });
      out.push("}");
      return;
    }
    default:
      throw new CanonicalJsonError(`${typeof value} is not a JSON value`, path);
  }
}

/** Encodes `value` as a canonical JSON string. Throws CanonicalJsonError for values Matrix forbids. */
export function encodeCanonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  const out: string[] = [];
  encodeValue(value, options.strict ?? true, "", out);
  return out.join("");
}

const utf8Encoder = new TextEncoder();

/** The UTF-8 bytes of the canonical JSON encoding of `value`. */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Uint8Array<ArrayBuffer> {
  return utf8Encoder.encode(encodeCanonicalJson(value, options)) as Uint8Array<ArrayBuffer>;
}
