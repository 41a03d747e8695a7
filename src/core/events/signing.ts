/**
 * Event signatures (server-server API, "Signing Events"). A server signs the
 * *redacted* event (which still includes the content hash), so the signature stays
 * checkable after a redaction; the signature is then stored on the full event.
 */
import type { SigningKey } from "../crypto/ed25519";
import { signJson, verifyJsonSignature } from "../crypto/signing";
import type { RoomVersion } from "../room-versions";
import { addContentHash, canonicalJsonOptionsFor } from "./hashing";
import type { JsonObject, PDU } from "./pdu";
import { redactEvent } from "./redaction";

/**
 * Returns a copy of `pdu` with this server's signature added (existing signatures
 * kept). Does not touch `hashes`: use hashAndSignEvent for events this server
 * builds; signEvent alone is for co-signing an event that already has its hash
 * (e.g. a join or invite another server built).
 */
export async function signEvent(pdu: PDU, serverName: string, key: SigningKey, roomVersion: RoomVersion): Promise<PDU> {
  const signedRedacted = await signJson(
    redactEvent(pdu, roomVersion),
    serverName,
    key,
    canonicalJsonOptionsFor(roomVersion),
  );
  return { ...pdu, signatures: signedRedacted.signatures };
}

/** Sets the content hash, then signs: the full procedure for a locally created event. */
export async function hashAndSignEvent(
  pdu: PDU,
  serverName: string,
  key: SigningKey,
  roomVersion: RoomVersion,
): Promise<PDU> {
  return signEvent(addContentHash(pdu, roomVersion), serverName, key, roomVersion);
}

/**
 * True when `signatures[serverName][keyId]` is a valid signature of the redacted
 * event. Works on full and already-redacted copies alike. Choosing which servers
 * must have signed, and whether a key was valid at origin_server_ts, is the caller's job.
 */
export async function verifyEventSignature(
  pdu: PDU | JsonObject,
  serverName: string,
  keyId: string,
  publicKey: Uint8Array,
  roomVersion: RoomVersion,
): Promise<boolean> {
  return verifyJsonSignature(
    redactEvent(pdu as JsonObject, roomVersion),
    serverName,
    keyId,
    publicKey,
    canonicalJsonOptionsFor(roomVersion),
  );
}
