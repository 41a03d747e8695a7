/**
 * Dehydrated devices (MSC3814) in Postgres. A dehydrated device is an ordinary row of `devices`, with
 * keys like any device's, marked by the `device_data` its owner uploaded; it never has an access token.
 * Each user has at most one (a partial unique index on `devices` holds that).
 */
import { and, eq, isNotNull } from "drizzle-orm";
import type { JsonObject } from "../core/events/pdu";
import type { Database } from "../db/client";
import { devices, users } from "../db/schema";
import { invalidParam } from "../http/errors";
import { deleteDeviceKeys, type Queryable, type VersionedKeyCounts } from "./key-store";
import { saveKeyUpload, type CheckedKeyUpload } from "./key-upload";

export interface DehydratedDevice {
  deviceId: string;
  deviceData: JsonObject;
}

export async function loadDehydratedDevice(db: Queryable, userId: string): Promise<DehydratedDevice | undefined> {
  const [row] = await db
    .select({ deviceId: devices.deviceId, deviceData: devices.dehydratedDeviceData })
    .from(devices)
    .where(and(eq(devices.userId, userId), isNotNull(devices.dehydratedDeviceData)));
  return row === undefined ? undefined : { deviceId: row.deviceId, deviceData: row.deviceData as JsonObject };
}

export interface NewDehydratedDevice {
  userId: string;
  deviceId: string;
  deviceData: JsonObject;
  displayName: string | null;
}

export interface StoredDehydratedDevice {
  /**
   * The user's previous dehydrated device, when it had another ID. It is no longer marked dehydrated;
   * the caller deletes it the way every device is deleted (UserSessions.removeDevices).
   */
  replacedDeviceId?: string;
  /** The new device's key counts. */
  report: VersionedKeyCounts;
}

/**
 * Makes `device`, with its checked keys, the user's dehydrated device, in one transaction. Uploading
 * the same device ID again replaces that device's keys. A device ID of one of the user's other devices
 * is refused: making a logged-in device dehydrated would log it out when it is replaced.
 */
export async function storeDehydratedDevice(db: Database, device: NewDehydratedDevice, keys: CheckedKeyUpload): Promise<StoredDehydratedDevice> {
  const owner = { userId: device.userId, deviceId: device.deviceId };
  return db.transaction(async (tx) => {
    // Serialises one user's uploads: two at once would otherwise both see no previous device.
    await tx.select({ userId: users.userId }).from(users).where(eq(users.userId, device.userId)).for("update");
    const previous = await loadDehydratedDevice(tx, device.userId);
    const [existing] = await tx
      .select({ deviceId: devices.deviceId })
      .from(devices)
      .where(and(eq(devices.userId, device.userId), eq(devices.deviceId, device.deviceId)));
    const sameDevice = previous?.deviceId === device.deviceId;
    if (existing !== undefined && !sameDevice) throw invalidParam(`Device ${device.deviceId} already exists and is not a dehydrated device`);

    if (sameDevice) {
      await deleteDeviceKeys(tx, device.userId, [device.deviceId]);
      await tx
        .update(devices)
        .set({ dehydratedDeviceData: device.deviceData, displayName: device.displayName })
        .where(and(eq(devices.userId, device.userId), eq(devices.deviceId, device.deviceId)));
    } else {
      if (previous !== undefined) {
        await tx
          .update(devices)
          .set({ dehydratedDeviceData: null })
          .where(and(eq(devices.userId, device.userId), eq(devices.deviceId, previous.deviceId)));
      }
      await tx.insert(devices).values({
        userId: device.userId,
        deviceId: device.deviceId,
        displayName: device.displayName,
        createdTs: Date.now(),
        dehydratedDeviceData: device.deviceData,
      });
    }
    const saved = await saveKeyUpload(tx, owner, keys);
    return { ...(previous !== undefined && !sameDevice ? { replacedDeviceId: previous.deviceId } : {}), report: saved.report };
  });
}
