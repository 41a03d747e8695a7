/**
 * A device's key upload: device keys, one-time keys and fallback keys, checked and then stored. POST
 * /keys/upload and PUT /dehydrated_device (MSC3814) carry the same three fields and share this.
 */
import type { JsonObject } from "../core/events/pdu";
import { checkDeviceKeys, checkUploadedKeys, deviceSigningKey, type DeviceKeys, type DeviceOwner, type UploadedKey } from "../e2ee/device-keys";
import { countKeys, loadDeviceKeys, saveDeviceKeys, saveFallbackKeys, saveOneTimeKeys, type Queryable, type VersionedKeyCounts } from "./key-store";

/** The key fields of an upload, as received. */
export interface KeyUploadFields {
  device_keys?: unknown;
  one_time_keys?: unknown;
  fallback_keys?: unknown;
}

export interface CheckedKeyUpload {
  deviceKeys?: DeviceKeys;
  oneTimeKeys: UploadedKey[];
  fallbackKeys: UploadedKey[];
}

/**
 * Checks `owner`'s upload. Signed one-time and fallback keys must carry the signature of the device's
 * ed25519 key: the one in the device keys uploaded with them, or else the one stored earlier.
 */
export async function checkKeyUpload(db: Queryable, owner: DeviceOwner, upload: KeyUploadFields): Promise<CheckedKeyUpload> {
  const deviceKeys = upload.device_keys === undefined ? undefined : await checkDeviceKeys(upload.device_keys, owner);
  const knownKeys = deviceKeys ?? ((await loadDeviceKeys(db, owner)) as DeviceKeys | undefined);
  const signingKey = knownKeys === undefined ? undefined : deviceSigningKey(knownKeys);
  const oneTimeKeys =
    upload.one_time_keys === undefined ? [] : await checkUploadedKeys(upload.one_time_keys, owner, signingKey, "one_time_keys");
  const fallbackKeys =
    upload.fallback_keys === undefined ? [] : await checkUploadedKeys(upload.fallback_keys, owner, signingKey, "fallback_keys");
  return { ...(deviceKeys !== undefined ? { deviceKeys } : {}), oneTimeKeys, fallbackKeys };
}

export interface SavedKeyUpload {
  /** Whether the device keys differ from those stored before: a device list change. */
  deviceKeysChanged: boolean;
  /** The device's key counts after the upload, for its owner's UserSync object. */
  report: VersionedKeyCounts;
}

/** Stores a checked upload; call it inside a transaction, so the counts match what was stored. */
export async function saveKeyUpload(tx: Queryable, owner: DeviceOwner, upload: CheckedKeyUpload): Promise<SavedKeyUpload> {
  const deviceKeysChanged = upload.deviceKeys !== undefined && (await saveDeviceKeys(tx, owner, upload.deviceKeys as JsonObject));
  await saveOneTimeKeys(tx, owner, upload.oneTimeKeys);
  await saveFallbackKeys(tx, owner, upload.fallbackKeys);
  return { deviceKeysChanged, report: await countKeys(tx, owner) };
}
