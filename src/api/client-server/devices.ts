/** Device management (spec: "Device Management"). */
import { and, asc, eq } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import { userSessions } from "../../accounts/sessions";
import { devices } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { notFound } from "../../http/errors";
import { parseWithSchema, readJsonBody, readJsonObject } from "../../http/request-body";
import { announceDeviceListChange } from "../../keys/device-lists";
import { requireUserInteractiveAuth } from "./user-interactive-auth";

type DeviceRow = typeof devices.$inferSelect;

function formatDevice(row: DeviceRow): Record<string, unknown> {
  return {
    device_id: row.deviceId,
    ...(row.displayName !== null ? { display_name: row.displayName } : {}),
    ...(row.lastSeenIp !== null ? { last_seen_ip: row.lastSeenIp } : {}),
    ...(row.lastSeenTs !== null ? { last_seen_ts: row.lastSeenTs } : {}),
  };
}

const renameSchema = z.object({ display_name: z.string().optional() });
const deleteDevicesSchema = z.object({ devices: z.array(z.string()), auth: z.unknown().optional() });
const deleteDeviceSchema = z.object({ auth: z.unknown().optional() });

export function registerDeviceRoutes(client: Hono<AppEnv>): void {
  client.get("/devices", requireAuth, async (c) => {
    const rows = await c
      .get("database")
      .db.select()
      .from(devices)
      .where(eq(devices.userId, c.get("requester").userId))
      .orderBy(asc(devices.createdTs));
    return c.json({ devices: rows.map(formatDevice) });
  });

  client.get("/devices/:deviceId", requireAuth, async (c) => {
    const [row] = await c
      .get("database")
      .db.select()
      .from(devices)
      .where(and(eq(devices.userId, c.get("requester").userId), eq(devices.deviceId, c.req.param("deviceId"))));
    if (!row) throw notFound("Unknown device");
    return c.json(formatDevice(row));
  });

  client.put("/devices/:deviceId", requireAuth, async (c) => {
    const body = await readJsonBody(c, renameSchema, true);
    const where = and(eq(devices.userId, c.get("requester").userId), eq(devices.deviceId, c.req.param("deviceId")));
    const db = c.get("database").db;
    const updated =
      body.display_name === undefined
        ? await db.select({ deviceId: devices.deviceId }).from(devices).where(where)
        : await db.update(devices).set({ displayName: body.display_name }).where(where).returning();
    if (updated.length === 0) throw notFound("Unknown device");
    // Other users see display names in /keys/query, so a rename is a device list change (as in Synapse).
    if (body.display_name !== undefined) {
      await announceDeviceListChange(c.env, db, c.get("config").serverName, c.get("requester").userId);
    }
    return c.json({});
  });

  client.delete("/devices/:deviceId", requireAuth, async (c) => {
    const requester = c.get("requester");
    const raw = await readJsonObject(c, true);
    parseWithSchema(deleteDeviceSchema, raw);
    await requireUserInteractiveAuth(c, raw, { flows: [["m.login.password"]], userId: requester.userId });
    await userSessions(c, requester.userId).removeDevices(requester.userId, [c.req.param("deviceId")]);
    return c.json({});
  });

  client.post("/delete_devices", requireAuth, async (c) => {
    const requester = c.get("requester");
    const raw = await readJsonObject(c);
    const body = parseWithSchema(deleteDevicesSchema, raw);
    await requireUserInteractiveAuth(c, raw, { flows: [["m.login.password"]], userId: requester.userId });
    await userSessions(c, requester.userId).removeDevices(requester.userId, body.devices);
    return c.json({});
  });
}
