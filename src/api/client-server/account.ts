/**
 * The account of the requester (spec: "Account registration and management", "Current account
 * information"): whoami, logout, password change, deactivation.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { userSessions } from "../../accounts/sessions";
import { markDeactivated, setPasswordHash } from "../../accounts/users";
import { hashPassword } from "../../core/crypto/password-hash";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { parseWithSchema, readJsonObject } from "../../http/request-body";
import { assertAcceptablePassword } from "./register";
import { requireUserInteractiveAuth } from "./user-interactive-auth";

const passwordChangeSchema = z.object({
  new_password: z.string(),
  logout_devices: z.boolean().optional(),
  auth: z.unknown().optional(),
});

const deactivateSchema = z.object({
  erase: z.boolean().optional(),
  id_server: z.string().optional(),
  auth: z.unknown().optional(),
});

export function registerAccountRoutes(client: Hono<AppEnv>): void {
  client.get("/account/whoami", requireAuth, (c) => {
    const requester = c.get("requester");
    return c.json({ user_id: requester.userId, device_id: requester.deviceId, is_guest: requester.isGuest });
  });

  client.post("/logout", requireAuth, async (c) => {
    const { userId, deviceId } = c.get("requester");
    await userSessions(c, userId).removeDevices(userId, [deviceId]);
    return c.json({});
  });

  client.post("/logout/all", requireAuth, async (c) => {
    const { userId } = c.get("requester");
    await userSessions(c, userId).removeDevices(userId);
    return c.json({});
  });

  client.post("/account/password", requireAuth, async (c) => {
    const requester = c.get("requester");
    const raw = await readJsonObject(c);
    const body = parseWithSchema(passwordChangeSchema, raw);
    assertAcceptablePassword(body.new_password, c.get("config").passwordMinLength);
    await requireUserInteractiveAuth(c, raw, { flows: [["m.login.password"]], userId: requester.userId });
    await setPasswordHash(c.get("database").db, requester.userId, await hashPassword(body.new_password));
    if (body.logout_devices ?? true) {
      await userSessions(c, requester.userId).removeDevices(requester.userId, undefined, requester.deviceId);
    }
    return c.json({});
  });

  client.post("/account/deactivate", requireAuth, async (c) => {
    const requester = c.get("requester");
    const raw = await readJsonObject(c, true);
    const body = parseWithSchema(deactivateSchema, raw);
    await requireUserInteractiveAuth(c, raw, { flows: [["m.login.password"]], userId: requester.userId });
    await markDeactivated(c.get("database").db, requester.userId, body.erase ?? false);
    await userSessions(c, requester.userId).removeDevices(requester.userId);
    // No identity server bindings are ever made here, so there is nothing to unbind.
    return c.json({ id_server_unbind_result: "no-support" });
  });
}
