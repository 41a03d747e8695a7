/**
 * Checks of what a device uploads with POST /keys/upload (spec: "Device keys", "One-time and fallback
 * keys", "Key algorithms"): the shape, that device keys belong to the uploading device and are signed
 * by its own ed25519 key, and that signed one-time and fallback keys carry a valid signature of that
 * key. Malformed input is M_BAD_JSON (M_MISSING_PARAM for a missing field), a signature that does not
 * verify M_INVALID_PARAM, keys of another user or device M_FORBIDDEN.
 */
import { z } from "zod";
import type { JsonObject } from "../core/events/pdu";
import { MatrixError, badJson, forbidden, invalidParam } from "../http/errors";
import { zodErrorToMatrixError } from "../http/request-body";
import { decodePublicKey, hasValidSignature } from "./signatures";

export const SIGNED_CURVE25519 = "signed_curve25519";
export const CURVE25519 = "curve25519";

const signaturesSchema = z.record(z.string(), z.record(z.string(), z.string()));

const deviceKeysSchema = z.looseObject({
  user_id: z.string(),
  device_id: z.string(),
  algorithms: z.array(z.string().min(1)),
  keys: z.record(z.string(), z.string()),
  signatures: signaturesSchema,
});

export type DeviceKeys = z.infer<typeof deviceKeysSchema>;

export interface DeviceOwner {
  userId: string;
  deviceId: string;
}

/** A one-time or fallback key as stored: its algorithm, the ID after `<algorithm>:`, and the key itself. */
export interface UploadedKey {
  algorithm: string;
  keyId: string;
  key: string | JsonObject;
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const error = zodErrorToMatrixError(result.error, value);
    throw new MatrixError(error.status, error.errcode, `${what}: ${error.message}`);
  }
  return result.data;
}

/** The device's ed25519 public key (unpadded base64) named in its device keys, if well-formed. */
export function deviceSigningKey(deviceKeys: { device_id: string; keys: Record<string, string> }): string | undefined {
  const key = deviceKeys.keys[`ed25519:${deviceKeys.device_id}`];
  return key !== undefined && decodePublicKey(key) !== null ? key : undefined;
}

/**
 * Checks device keys uploaded by `owner`: their own user and device, key names `<algorithm>:<device_id>`,
 * well-formed curve25519 and ed25519 keys, and a valid self-signature by the device's ed25519 key.
 */
export async function checkDeviceKeys(value: unknown, owner: DeviceOwner): Promise<DeviceKeys> {
  const deviceKeys = parse(deviceKeysSchema, value, "device_keys");
  if (deviceKeys.user_id !== owner.userId || deviceKeys.device_id !== owner.deviceId) {
    throw forbidden("device_keys may only be uploaded for the device making the request");
  }
  if (deviceKeys.algorithms.length === 0) throw badJson("device_keys.algorithms must not be empty");
  for (const [name, key] of Object.entries(deviceKeys.keys)) {
    const separator = name.indexOf(":");
    const algorithm = name.slice(0, separator);
    if (separator <= 0 || name.slice(separator + 1) !== owner.deviceId) {
      throw badJson(`device_keys.keys: ${JSON.stringify(name)} is not named <algorithm>:<device_id>`);
    }
    if ((algorithm === "ed25519" || algorithm === CURVE25519) && decodePublicKey(key) === null) {
      throw badJson(`device_keys.keys: ${name} is not an unpadded base64 32-byte key`);
    }
  }
  const signingKey = deviceSigningKey(deviceKeys);
  if (signingKey === undefined) throw badJson(`device_keys.keys must include ed25519:${owner.deviceId}`);
  if (!(await hasValidSignature(deviceKeys, owner.userId, owner.deviceId, signingKey))) {
    throw invalidParam("device_keys: the signature by the device's ed25519 key does not verify");
  }
  return deviceKeys;
}

const signedKeySchema = z.looseObject({
  key: z.string(),
  signatures: signaturesSchema,
  fallback: z.boolean().optional(),
});

/** Splits a key name `<algorithm>:<key_id>`. */
export function parseKeyName(name: string): { algorithm: string; keyId: string } | undefined {
  const separator = name.indexOf(":");
  if (separator <= 0 || separator === name.length - 1) return undefined;
  return { algorithm: name.slice(0, separator), keyId: name.slice(separator + 1) };
}

/**
 * Checks one-time keys (or fallback keys, `field` naming which) uploaded by `owner`, whose ed25519 key
 * is `signingKey` (from the device keys in the same request or stored earlier). `signed_curve25519`
 * keys must be signed by it; `curve25519` keys must be bare keys; keys of other algorithms are kept as
 * they are, since the server cannot know their format.
 */
export async function checkUploadedKeys(
  value: unknown,
  owner: DeviceOwner,
  signingKey: string | undefined,
  field: "one_time_keys" | "fallback_keys",
): Promise<UploadedKey[]> {
  const entries = parse(z.record(z.string(), z.union([z.string(), z.record(z.string(), z.unknown())])), value, field);
  const keys: UploadedKey[] = [];
  for (const [name, key] of Object.entries(entries)) {
    const parsedName = parseKeyName(name);
    if (parsedName === undefined) throw badJson(`${field}: ${JSON.stringify(name)} is not named <algorithm>:<key_id>`);
    const { algorithm } = parsedName;
    if (algorithm === SIGNED_CURVE25519) {
      const signed = parse(signedKeySchema, key, `${field}.${name}`);
      if (decodePublicKey(signed.key) === null) throw badJson(`${field}.${name}: not an unpadded base64 32-byte key`);
      if (signingKey === undefined) {
        throw invalidParam(`${field}: signed keys cannot be checked before the device's keys are uploaded`);
      }
      if (!(await hasValidSignature(signed, owner.userId, owner.deviceId, signingKey))) {
        throw invalidParam(`${field}.${name}: the signature by the device's ed25519 key does not verify`);
      }
    } else if (algorithm === CURVE25519 && (typeof key !== "string" || decodePublicKey(key) === null)) {
      throw badJson(`${field}.${name}: not an unpadded base64 32-byte key`);
    }
    keys.push({ ...parsedName, key: key as string | JsonObject });
  }
  if (field === "fallback_keys") {
    const algorithms = new Set(keys.map((key) => key.algorithm));
    if (algorithms.size !== keys.length) throw invalidParam("fallback_keys: at most one key per algorithm");
  }
  return keys;
}

/**
 * Counts as sent to clients: `signed_curve25519` is always present, 0 when none are left, as Synapse
 * sends them; older clients only upload new keys when they see that count.
 */
export function oneTimeKeyCountsForClients(counts: Record<string, number>): Record<string, number> {
  return { [SIGNED_CURVE25519]: 0, ...counts };
}
