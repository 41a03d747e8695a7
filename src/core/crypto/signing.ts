/**
 * Signing JSON (appendices, "Signing Details" and "Checking for a Signature"):
 * the signature covers the canonical JSON of the object without its `signatures`
 * and `unsigned` members, and is stored at `signatures[entity][keyId]`.
 */
import { CanonicalJsonError, canonicalJsonBytes, type CanonicalJsonOptions } from "../canonical-json";
import { encodeBase64, tryDecodeBase64 } from "./base64";
import { signBytes, verifyBytes, type SigningKey } from "./ed25519";

export type Signatures = Record<string, Record<string, string>>;

/** The bytes a signature covers: the object minus `signatures` and `unsigned`, canonically encoded. */
export function signedBytesOf(obj: object, options: CanonicalJsonOptions = {}): Uint8Array {
  const { signatures: _signatures, unsigned: _unsigned, ...covered } = obj as Record<string, unknown>;
  return canonicalJsonBytes(covered, options);
}

function existingSignatures(obj: object): Signatures {
  const signatures = (obj as { signatures?: unknown }).signatures;
  if (signatures === undefined) return {};
  if (typeof signatures !== "object" || signatures === null || Array.isArray(signatures)) {
    throw new TypeError("`signatures` must be an object");
  }
  return signatures as Signatures;
}

/** Computes the signature of `obj` by `key`, unpadded base64, without attaching it. */
export async function computeJsonSignature(
  obj: object,
  key: SigningKey,
  options: CanonicalJsonOptions = {},
): Promise<string> {
  return encodeBase64(await signBytes(key, signedBytesOf(obj, options)));
}

/**
 * Returns a copy of `obj` with `signatures[serverName][key.keyId]` set. Other
 * signatures and `unsigned` are kept (neither is covered by the signature).
 * Throws CanonicalJsonError if `obj` is not encodable.
 */
export async function signJson<T extends object>(
  obj: T,
  serverName: string,
  key: SigningKey,
  options: CanonicalJsonOptions = {},
): Promise<T & { signatures: Signatures }> {
  const signature = await computeJsonSignature(obj, key, options);
  const previous = existingSignatures(obj);
  const signatures: Signatures = { ...previous, [serverName]: { ...previous[serverName], [key.keyId]: signature } };
  return { ...obj, signatures };
}

/** The signature `signatures[serverName][keyId]`, if present and a string. */
export function getSignature(obj: object, serverName: string, keyId: string): string | undefined {
  const signatures = (obj as { signatures?: unknown }).signatures;
  if (typeof signatures !== "object" || signatures === null) return undefined;
  const byServer: unknown = (signatures as Record<string, unknown>)[serverName];
  if (typeof byServer !== "object" || byServer === null) return undefined;
  const signature: unknown = (byServer as Record<string, unknown>)[keyId];
  return typeof signature === "string" ? signature : undefined;
}

/**
 * True when `obj` carries a valid signature by `serverName` with key `keyId`
 * verifiable with `publicKey`. A missing or undecodable signature, or an object
 * that is not valid canonical JSON, gives false: these all arrive from remote
 * servers and mean "not signed".
 */
export async function verifyJsonSignature(
  obj: object,
  serverName: string,
  keyId: string,
  publicKey: Uint8Array,
  options: CanonicalJsonOptions = {},
): Promise<boolean> {
  const encoded = getSignature(obj, serverName, keyId);
  if (encoded === undefined) return false;
  const signature = tryDecodeBase64(encoded);
  if (signature === null) return false;
  let message: Uint8Array;
  try {
    message = signedBytesOf(obj, options);
  } catch (error) {
    if (error instanceof CanonicalJsonError) return false;
    throw error;
  }
  return verifyBytes(publicKey, message, signature);
}
