/**
 * Cross-signing keys (spec: "Cross-signing"): a master key, a self-signing key and a user-signing key
 * per user, each an object holding exactly one ed25519 public key, the latter two signed by the master
 * key.
 */
import { z } from "zod";
import { MatrixError, badJson, forbidden } from "../http/errors";
import { zodErrorToMatrixError } from "../http/request-body";
import { decodePublicKey, hasValidSignature } from "./signatures";

export const CROSS_SIGNING_USAGES = ["master", "self_signing", "user_signing"] as const;
export type CrossSigningUsage = (typeof CROSS_SIGNING_USAGES)[number];

const crossSigningKeySchema = z.looseObject({
  user_id: z.string(),
  usage: z.array(z.string()),
  keys: z.record(z.string(), z.string()),
  signatures: z.record(z.string(), z.record(z.string(), z.string())).optional(),
});

export type CrossSigningKey = z.infer<typeof crossSigningKeySchema>;

export interface CheckedCrossSigningKey {
  key: CrossSigningKey;
  /** The unpadded base64 public key, which is also the key's name (`ed25519:<public key>`). */
  publicKey: string;
}

/** The public key of a stored or uploaded cross-signing key, if it holds exactly one well-formed ed25519 key. */
export function crossSigningPublicKey(key: { keys: Record<string, string> }): string | undefined {
  const entries = Object.entries(key.keys);
  if (entries.length !== 1) return undefined;
  const [name, value] = entries[0]!;
  if (name !== `ed25519:${value}` || decodePublicKey(value) === null) return undefined;
  return value;
}

/**
 * Checks a cross-signing key uploaded by `userId` for `usage`: well-formed, the uploader's own, with
 * exactly one ed25519 key named after itself. `signedBy`, when given, is the master public key that
 * must have signed it (M_INVALID_SIGNATURE otherwise).
 */
export async function checkCrossSigningKey(
  value: unknown,
  userId: string,
  usage: CrossSigningUsage,
  signedBy?: string,
): Promise<CheckedCrossSigningKey> {
  const parsed = crossSigningKeySchema.safeParse(value);
  if (!parsed.success) {
    const error = zodErrorToMatrixError(parsed.error, value);
    throw new MatrixError(error.status, error.errcode, `${usage} key: ${error.message}`);
  }
  const key = parsed.data;
  if (key.user_id !== userId) throw forbidden(`The ${usage} key belongs to another user`);
  if (!key.usage.includes(usage)) throw badJson(`The ${usage} key's usage does not include ${usage}`);
  const publicKey = crossSigningPublicKey(key);
  if (publicKey === undefined) {
    throw badJson(`The ${usage} key must hold exactly one key, named ed25519:<unpadded base64 public key>`);
  }
  if (signedBy !== undefined && !(await hasValidSignature(key, userId, signedBy, signedBy))) {
    throw new MatrixError(400, "M_INVALID_SIGNATURE", `The ${usage} key is not signed by the master key`);
  }
  return { key, publicKey };
}
