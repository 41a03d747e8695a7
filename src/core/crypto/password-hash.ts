/**
 * Password hashing with PBKDF2-HMAC-SHA256 through WebCrypto: a slow KDF that runs natively in Workers
 * (workerd caps PBKDF2 at 100,000 iterations, which is also OWASP's floor for this PRF family).
 * Stored form: `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`.
 */
import { bytesToHex, constantTimeEqual, hexToBytes } from "./secrets";

const ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const encoder = new TextEncoder();

async function deriveBits(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password.normalize("NFKC")), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BITS);
  return new Uint8Array(bits);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await deriveBits(password, salt, ITERATIONS);
  return `pbkdf2-sha256$${ITERATIONS}$${bytesToHex(salt)}$${bytesToHex(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iterationText, saltHex, hashHex] = stored.split("$");
  if (scheme !== "pbkdf2-sha256" || !iterationText || !saltHex || !hashHex) return false;
  const iterations = Number(iterationText);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > ITERATIONS) return false;
  const expected = hexToBytes(hashHex);
  const actual = await deriveBits(password, hexToBytes(saltHex), iterations);
  return constantTimeEqual(actual, expected);
}
