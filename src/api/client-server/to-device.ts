/**
 * Send-to-device messaging (spec: "Send-to-Device messaging"): PUT /sendToDevice/{eventType}/{txnId}.
 *
 * Each message is queued in the recipient's UserSync object for the device it is for, and reaches that
 * device through `to_device` in /sync until a later sync acknowledges it. The sender's UserSync object
 * remembers the transaction ID once every message is queued, so a repeated request sends nothing; a
 * retry of a request that failed half-way re-queues only what its recipients do not hold yet, since
 * each message's ID is derived from the request.
 */
import { inArray } from "drizzle-orm";
import type { Hono } from "hono";
import { z } from "zod";
import type { ToDeviceDelivery } from "../../../durable-objects/user-sync";
import type { JsonObject } from "../../core/events/pdu";
import { serverNameOf } from "../../core/identifiers";
import { devices } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { readJsonBody } from "../../http/request-body";
import { userSyncStub } from "../../sync/user-sync-stub";

const sendToDeviceSchema = z.looseObject({
  messages: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))),
});

/** The device ID meaning every device of the user. */
const ALL_DEVICES = "*";

export function registerToDeviceRoutes(client: Hono<AppEnv>): void {
  client.put("/sendToDevice/:eventType/:txnId", requireAuth, async (c) => {
    const requester = c.get("requester");
    const eventType = c.req.param("eventType");
    const txnId = c.req.param("txnId");
    const body = await readJsonBody(c, sendToDeviceSchema);
    const sender = userSyncStub(c.env, requester.userId);
    if (await sender.hasToDeviceTransaction(requester.deviceId, txnId)) return c.json({});

    const serverName = c.get("config").serverName;
    // Messages for users of other servers would go over federation, which this server does not speak yet.
    const recipients = Object.keys(body.messages).filter((userId) => serverNameOf(userId) === serverName);
    if (recipients.length > 0) {
      const rows = await c
        .get("database")
        .db.select({ userId: devices.userId, deviceId: devices.deviceId })
        .from(devices)
        .where(inArray(devices.userId, recipients));
      const devicesOf = new Map<string, string[]>();
      for (const row of rows) devicesOf.set(row.userId, [...(devicesOf.get(row.userId) ?? []), row.deviceId]);
      await Promise.all(
        recipients.map(async (userId) => {
          const existing = devicesOf.get(userId) ?? [];
          const deliveries: ToDeviceDelivery[] = [];
          for (const [requested, content] of Object.entries(body.messages[userId]!)) {
            // Messages for devices that do not exist are dropped, as Synapse does: nobody would collect them.
            const targets = requested === ALL_DEVICES ? existing : existing.filter((deviceId) => deviceId === requested);
            for (const deviceId of targets) {
              deliveries.push({
                messageId: JSON.stringify([requester.userId, requester.deviceId, txnId, requested, deviceId]),
                deviceId,
                sender: requester.userId,
                type: eventType,
                content: content as JsonObject,
              });
            }
          }
          if (deliveries.length > 0) await userSyncStub(c.env, userId).deliverToDevice(deliveries);
        }),
      );
    }
    await sender.recordToDeviceTransaction(requester.deviceId, txnId);
    return c.json({});
  });
}
