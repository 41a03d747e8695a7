/**
 * Send-to-device messaging (spec: "Send-to-Device messaging"): PUT /sendToDevice/{eventType}/{txnId}.
 *
 * Each message goes to the recipient's UserSync object, which knows the user's devices (so `*` and
 * unknown device IDs are resolved there, without Postgres) and queues it for each device it is for,
 * until a later sync of that device acknowledges it. The sender's UserSync object remembers the
 * transaction ID once every message is queued, so a repeated request sends nothing; a retry of a
 * request that failed half-way queues only what the recipients do not hold yet, since each message's
 * ID is derived from the request.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { ToDeviceDelivery } from "../../../durable-objects/user-sync";
import type { JsonObject } from "../../core/events/pdu";
import { serverNameOf } from "../../core/identifiers";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { readJsonBody } from "../../http/request-body";
import { userSyncStub } from "../../sync/user-sync-stub";

const sendToDeviceSchema = z.looseObject({
  messages: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))),
});

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
    const recipients = Object.entries(body.messages).filter(([userId]) => serverNameOf(userId) === serverName);
    await Promise.all(
      recipients.map(([userId, byDevice]) => {
        const deliveries: ToDeviceDelivery[] = Object.entries(byDevice).map(([deviceId, content]) => ({
          messageId: JSON.stringify([requester.userId, requester.deviceId, txnId, deviceId]),
          deviceId,
          sender: requester.userId,
          type: eventType,
          content: content as JsonObject,
        }));
        return userSyncStub(c.env, userId).deliverToDevice(deliveries);
      }),
    );
    await sender.recordToDeviceTransaction(requester.deviceId, txnId);
    return c.json({});
  });
}
