/**
 * Signatures on end-to-end encryption keys (spec: "Signing JSON", "Key algorithms"): device keys,
 * one-time keys and cross-signing keys are signed JSON objects whose signatures live at
 * `signatures[user_id]["ed25519:<key name>"]`, over the canonical JSON of the object without
 * `signatures` and `unsigned`.
 */
import { encodeCanonicalJson, CanonicalJsonError } from "../core/canonical-json";
import { tryDecodeBase64 } from "../core/crypto/base64";
import { ED25519_PUBLIC_KEY_LENGTH } from "../core/crypto/ed25519";
import { verifyJsonSignature } from "../core/crypto/signing";

/** Curve25519 public keys are as long as ed25519 ones. */
const PUBLIC_KEY_LENGTH = ED25519_PUBLIC_KEY_LENGTH;

/** The bytes of an unpadded base64 32-byte public key, or null if `text` is not one. */
export function decodePublicKey(text: string): Uint8Array | null {
  const bytes = tryDecodeBase64(text);
  return bytes !== null && bytes.length === PUBLIC_KEY_LENGTH ? bytes : null;
}

/** Whether `obj` carries a valid signature of `userId` made with the ed25519 key `publicKey` named `keyName`. */
export async function hasValidSignature(obj: object, userId: string, keyName: string, publicKey: string): Promise<boolean> {
  const key = decodePublicKey(publicKey);
  if (key === null) return false;
  return verifyJsonSignature(obj, userId, `ed25519:${keyName}`, key);
}

/** The signatures `userId` made on `obj`, by key ID (`ed25519:...`); only well-formed entries. */
export function signaturesBy(obj: object, userId: string): Map<string, string> {
  const signatures = (obj as { signatures?: unknown }).signatures;
  const result = new Map<string, string>();
  if (typeof signatures !== "object" || signatures === null) return result;
  const byUser: unknown = (signatures as Record<string, unknown>)[userId];
  if (typeof byUser !== "object" || byUser === null) return result;
  for (const [keyId, signature] of Object.entries(byUser)) {
    if (typeof signature === "string") result.set(keyId, signature);
  }
  return result;
}

/** The canonical JSON of what a signature covers, or undefined if the object cannot be encoded. */
function signedContent(obj: object): string | undefined {
  const { signatures: _signatures, unsigned: _unsigned, ...covered } = obj as Record<string, unknown>;
  try {
    return encodeCanonicalJson(covered);
  } catch (error) {
    if (error instanceof CanonicalJsonError) return undefined;
    throw error;
  }
}

/** Whether two signed objects say the same thing (their signatures and `unsigned` aside). */
export function sameSignedContent(a: object, b: object): boolean {
  const encoded = signedContent(a);
  return encoded !== undefined && encoded === signedContent(b);
}

/** Whether two JSON values are equal, compared as canonical JSON. */
export function sameJson(a: unknown, b: unknown): boolean {
  try {
    return encodeCanonicalJson(a) === encodeCanonicalJson(b);
  } catch (error) {
    if (error instanceof CanonicalJsonError) return false;
    throw error;
  }
}
