/**
 * Dehydrated devices (MSC3814), under `/_matrix/client/unstable/org.matrix.msc3814.v1`: a device kept on
 * the server, encrypted by its owner, that receives room keys while none of the user's devices is
 * logged in; the user's next new device rehydrates it and reads the to-device messages it received.
 *
 * GET, PUT and DELETE /dehydrated_device, and its to-device messages through
 * GET /dehydrated_device/{deviceId}/events (`from` in the query; `next_batch` only while more follow,
 * as matrix-js-sdk reads it) or the earlier draft's POST (`next_batch` in the body and always in the
 * response, as Synapse still serves it).
 */
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { ToDevicePage } from "../../../durable-objects/user-sync";
import { userSessions } from "../../accounts/sessions";
import type { JsonObject } from "../../core/events/pdu";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { forbidden, invalidParam, notFound } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { loadDehydratedDevice, storeDehydratedDevice } from "../../keys/dehydrated-devices";
import { announceDeviceListChange } from "../../keys/device-lists";
import { reportKeyCounts } from "../../keys/key-store";
import { checkKeyUpload } from "../../keys/key-upload";
import { userSyncStub } from "../../sync/user-sync-stub";

/** Where MSC3814's endpoints live until the spec has them. */
export const MSC3814_PREFIX = "/_matrix/client/unstable/org.matrix.msc3814.v1";

/** Messages per page unless `limit` says otherwise (as Synapse), and the most a page holds. */
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

const putSchema = z.looseObject({
  device_id: z.string().min(1),
  device_data: z.looseObject({ algorithm: z.string() }),
  initial_device_display_name: z.string().nullable().optional(),
  device_keys: z.looseObject({}),
  one_time_keys: z.unknown().optional(),
  fallback_keys: z.unknown().optional(),
});

const eventsPostSchema = z.looseObject({ next_batch: z.string().nullable().optional() });

function parsePageSize(c: Context<AppEnv>): number {
  const text = c.req.query("limit");
  if (text === undefined || text === "") return DEFAULT_PAGE_SIZE;
  // A limit of 0 would return the same empty page for ever.
  if (!/^[0-9]+$/.test(text) || Number(text) === 0) throw invalidParam("limit must be a positive integer");
  return Math.min(Number(text), MAX_PAGE_SIZE);
}

/** A pagination token: the stream position after which the next page starts. */
function parsePageToken(token: string | null | undefined, name: string): number {
  if (token === undefined || token === null || token === "") return 0;
  if (!/^[0-9]{1,15}$/.test(token)) throw invalidParam(`${name} is not a token this server issued`);
  return Number(token);
}

/** The page of the dehydrated device's messages after `after`; only the user's current dehydrated device may be read. */
async function dehydratedDevicePage(c: Context<AppEnv>, after: number): Promise<ToDevicePage> {
  const userId = c.get("requester").userId;
  const deviceId = c.req.param("deviceId") ?? "";
  const dehydrated = await loadDehydratedDevice(c.get("database").db, userId);
  if (dehydrated === undefined) throw forbidden("No dehydrated device exists");
  if (dehydrated.deviceId !== deviceId) throw forbidden("You may only fetch messages for your dehydrated device");
  return userSyncStub(c.env, userId).toDevicePage(deviceId, after, parsePageSize(c));
}

export function registerDehydratedDeviceRoutes(router: Hono<AppEnv>): void {
  router.get("/dehydrated_device", requireAuth, async (c) => {
    const dehydrated = await loadDehydratedDevice(c.get("database").db, c.get("requester").userId);
    if (dehydrated === undefined) throw notFound("No dehydrated device available");
    return c.json({ device_id: dehydrated.deviceId, device_data: dehydrated.deviceData });
  });

  router.put("/dehydrated_device", requireAuth, async (c) => {
    const userId = c.get("requester").userId;
    const body = await readJsonBody(c, putSchema);
    const db = c.get("database").db;
    const keys = await checkKeyUpload(db, { userId, deviceId: body.device_id }, body);
    const stored = await storeDehydratedDevice(
      db,
      { userId, deviceId: body.device_id, deviceData: body.device_data as JsonObject, displayName: body.initial_device_display_name ?? null },
      keys,
    );
    if (stored.replacedDeviceId !== undefined) await userSessions(c, userId).removeDevices(userId, [stored.replacedDeviceId]);
    await userSyncStub(c.env, userId).deviceAdded(body.device_id);
    await reportKeyCounts(c.env, stored.report);
    // A new device with new keys, as a login followed by a key upload would be.
    await announceDeviceListChange(c.env, db, c.get("config").serverName, userId);
    return c.json({ device_id: body.device_id });
  });

  router.delete("/dehydrated_device", requireAuth, async (c) => {
    const userId = c.get("requester").userId;
    const dehydrated = await loadDehydratedDevice(c.get("database").db, userId);
    if (dehydrated === undefined) throw notFound("No dehydrated device available");
    await userSessions(c, userId).removeDevices(userId, [dehydrated.deviceId]);
    return c.json({ device_id: dehydrated.deviceId });
  });

  router.get("/dehydrated_device/:deviceId/events", requireAuth, async (c) => {
    const page = await dehydratedDevicePage(c, parsePageToken(c.req.query("from"), "from"));
    return c.json({ events: page.events, ...(page.limited ? { next_batch: String(page.end) } : {}) });
  });

  router.post("/dehydrated_device/:deviceId/events", requireAuth, async (c) => {
    const body = await readJsonBody(c, eventsPostSchema);
    const page = await dehydratedDevicePage(c, parsePageToken(body.next_batch, "next_batch"));
    // The earlier draft's clients stop at an empty page, so the token is always there.
    return c.json({ events: page.events, next_batch: String(page.end) });
  });
}
