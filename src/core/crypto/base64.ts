/**
 * Unpadded Base64 (appendices, "Unpadded Base64") and its URL-safe variant.
 * Encoders never emit `=`; decoders accept input with or without padding, as the
 * spec asks, and ignore non-zero bits in the final character (the spec's own
 * signing-key seed test vector has them).
 */

export class Base64Error extends Error {
  override readonly name = "Base64Error";
}

const STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function buildDecodeTable(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}

const STANDARD_DECODE = buildDecodeTable(STANDARD_ALPHABET);
const URL_SAFE_DECODE = buildDecodeTable(URL_SAFE_ALPHABET);

function encode(bytes: Uint8Array, alphabet: string): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const remaining = bytes.length - i;
  if (remaining === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]!;
  } else if (remaining === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]!;
  }
  return out;
}

function decode(text: string, table: Int16Array, label: string): Uint8Array<ArrayBuffer> {
  let end = text.length;
  // Up to two `=` are allowed, and only if they make the length a multiple of 4.
  if (end % 4 === 0) {
    if (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
    if (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  }
  if (end % 4 === 1) throw new Base64Error(`invalid ${label} length`);
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let bits = 0;
  let bitCount = 0;
  let written = 0;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? table[code]! : -1;
    if (value < 0) throw new Base64Error(`invalid ${label} character at offset ${i}`);
    bits = ((bits << 6) | value) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      out[written++] = (bits >> bitCount) & 0xff;
    }
  }
  return out;
}

/** Standard alphabet, no padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, STANDARD_ALPHABET);
}

/** URL-safe alphabet (`-` and `_`), no padding. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encode(bytes, URL_SAFE_ALPHABET);
}

/** Decodes standard Base64, padded or not. Throws Base64Error on malformed input. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  return decode(text, STANDARD_DECODE, "base64");
}

/** Decodes URL-safe Base64, padded or not. Throws Base64Error on malformed input. */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> {
  return decode(text, URL_SAFE_DECODE, "URL-safe base64");
}

/** Like decodeBase64 but returns null instead of throwing. */
export function tryDecodeBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return decodeBase64(text);
  } catch (error) {
    if (error instanceof Base64Error) return null;
    throw error;
  }
}
