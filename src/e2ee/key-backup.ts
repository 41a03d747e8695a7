/**
 * Server-side key backup (spec: "Server-side key backups"): which of two backed-up keys of the same
 * megolm session the server keeps.
 */

export interface BackedUpKeyMetadata {
  is_verified: boolean;
  first_message_index: number;
  forwarded_count: number;
}

/**
 * The spec's rule: keep the verified key if only one is; otherwise the one that decrypts from an
 * earlier message; otherwise the one forwarded fewer times. Ties keep the stored key.
 */
export function shouldReplaceBackedUpKey(stored: BackedUpKeyMetadata | undefined, incoming: BackedUpKeyMetadata): boolean {
  if (stored === undefined) return true;
  if (stored.is_verified !== incoming.is_verified) return incoming.is_verified;
  if (stored.first_message_index !== incoming.first_message_index) {
    return incoming.first_message_index < stored.first_message_index;
  }
  return incoming.forwarded_count < stored.forwarded_count;
}
