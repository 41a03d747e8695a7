/**
 * Event hashes (server-server API, "Calculating the content hash for an event" and
 * "Calculating the reference hash for an event").
 *
 * The content hash covers the full, unredacted event so a receiver can tell whether
 * it was given a redacted copy. The reference hash covers only the redacted event
 * (including the content hash) and is the basis of v3+ event IDs.
 *
 * Hashing is synchronous (@noble/hashes) so callers can compute event IDs inline.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { CanonicalJsonError, canonicalJsonBytes } from "../canonical-json";
import { encodeBase64, tryDecodeBase64 } from "../crypto/base64";
import type { RoomVersion } from "../room-versions";
import type { JsonObject, PDU } from "./pdu";
import { redactEvent } from "./redaction";

/** Canonical JSON strictness for events of a room version (v1-v5 tolerate out-of-range integers). */
export function canonicalJsonOptionsFor(roomVersion: RoomVersion | undefined): { strict: boolean } {
  return { strict: roomVersion?.strictCanonicalJson ?? false };
}

/**
 * SHA-256 of the event without `unsigned`, `signatures` and `hashes`, unpadded base64.
 * Without a room version the encoding is lenient about integer range (only the
 * event's room version can say whether strictness applies).
 * Throws CanonicalJsonError if the event cannot be encoded.
 */
export function computeContentHash(pdu: PDU | JsonObject, roomVersion?: RoomVersion): string {
  const { unsigned: _unsigned, signatures: _signatures, hashes: _hashes, ...covered } = pdu as Record<string, unknown>;
  return encodeBase64(sha256(canonicalJsonBytes(covered, canonicalJsonOptionsFor(roomVersion))));
}

/** Returns a copy of the event with `hashes.sha256` set to its content hash (other hash algorithms kept). */
export function addContentHash(pdu: PDU, roomVersion?: RoomVersion): PDU {
  const hashes = { ...pdu.hashes, sha256: computeContentHash(pdu, roomVersion) };
  return { ...pdu, hashes };
}

/**
 * True when `hashes.sha256` matches the event's content. Compares decoded bytes, so
 * padded encodings are accepted. False (not an exception) for a missing or malformed
 * hash or an unencodable event: a failed check means "treat as redacted".
 */
export function checkContentHash(pdu: PDU | JsonObject, roomVersion?: RoomVersion): boolean {
  const hashes: unknown = (pdu as Record<string, unknown>)["hashes"];
  if (typeof hashes !== "object" || hashes === null) return false;
  const claimed: unknown = (hashes as Record<string, unknown>)["sha256"];
  if (typeof claimed !== "string") return false;
  const claimedBytes = tryDecodeBase64(claimed);
  if (claimedBytes === null || claimedBytes.length !== 32) return false;
  let actual: string;
  try {
    actual = computeContentHash(pdu, roomVersion);
  } catch (error) {
    if (error instanceof CanonicalJsonError) return false;
    throw error;
  }
  const actualBytes = tryDecodeBase64(actual);
  if (actualBytes === null) return false;
  let difference = 0;
  for (let i = 0; i < 32; i++) difference |= claimedBytes[i]! ^ actualBytes[i]!;
  return difference === 0;
}

/**
 * SHA-256 (raw 32 bytes) of the redacted event without `signatures` and `unsigned`.
 * Throws CanonicalJsonError if the event cannot be encoded.
 */
export function computeReferenceHash(pdu: PDU | JsonObject, roomVersion: RoomVersion): Uint8Array {
  const redacted = redactEvent(pdu as JsonObject, roomVersion) as Record<string, unknown>;
  const { signatures: _signatures, unsigned: _unsigned, ...covered } = redacted;
  return sha256(canonicalJsonBytes(covered, canonicalJsonOptionsFor(roomVersion)));
}
