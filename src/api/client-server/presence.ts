/** Presence (spec: "Presence"): GET/PUT /presence/{userId}/status. */
import type { Hono } from "hono";
import { z } from "zod";
import { findUser } from "../../accounts/users";
import { parseUserId } from "../../core/identifiers";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { forbidden, invalidParam, notFound } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { PRESENCE_STATES, presenceContent, publishPresence, sharesRoomWith } from "../../sync/presence";
import { userSyncStub } from "../../sync/user-sync-stub";

const presenceSchema = z.object({
  presence: z.enum(PRESENCE_STATES),
  status_msg: z.string().optional(),
});

export function registerPresenceRoutes(client: Hono<AppEnv>): void {
  client.put("/presence/:userId/status", requireAuth, async (c) => {
    const userId = c.req.param("userId");
    if (userId !== c.get("requester").userId) throw forbidden("Cannot set another user's presence");
    const body = await readJsonBody(c, presenceSchema);
    const config = c.get("config");
    // With presence off the request is accepted and ignored, as Synapse does.
    if (!config.presenceEnabled) return c.json({});
    const changed = await userSyncStub(c.env, userId).setOwnPresence(body.presence, body.status_msg, false);
    if (changed !== undefined) await publishPresence(c.env, config, userId, changed);
    return c.json({});
  });

  client.get("/presence/:userId/status", requireAuth, async (c) => {
    const userId = c.req.param("userId");
    const parsed = parseUserId(userId);
    if (parsed === null) throw invalidParam(`Invalid user ID: ${userId}`);
    const config = c.get("config");
    const db = c.get("database").db;
    const requester = c.get("requester").userId;
    if (parsed.serverName !== config.serverName || !(await findUser(db, userId))) throw notFound("Unknown user");
    if (userId !== requester && !(await sharesRoomWith(db, requester, userId))) {
      throw forbidden("You are not allowed to see their presence");
    }
    const state = config.presenceEnabled ? await userSyncStub(c.env, userId).presenceOf(userId) : undefined;
    return c.json(state === undefined ? { presence: "offline" } : presenceContent(state, Date.now()));
  });
}
