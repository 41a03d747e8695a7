/** Room tagging (spec: "Room Tagging"): tags are the `m.tag` room account data event's content. */
import type { Context, Hono } from "hono";
import { z } from "zod";
import { readAccountData, writeAccountData } from "../../accounts/account-data";
import type { JsonObject } from "../../core/events/pdu";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { readJsonBody } from "../../http/request-body";
import { ownUserId, validRoomIdParam } from "./account-data";

const TAG_EVENT = "m.tag";
const tagSchema = z.looseObject({ order: z.number().min(0).max(1).optional() });

async function currentTags(c: Context<AppEnv>, userId: string, roomId: string): Promise<JsonObject> {
  const content = await readAccountData(c.get("database").db, userId, roomId, TAG_EVENT);
  const tags = content?.["tags"];
  return typeof tags === "object" && tags !== null && !Array.isArray(tags) ? (tags as JsonObject) : {};
}

export function registerTagRoutes(client: Hono<AppEnv>): void {
  client.get("/user/:userId/rooms/:roomId/tags", requireAuth, async (c) => {
    const tags = await currentTags(c, ownUserId(c), validRoomIdParam(c));
    return c.json({ tags });
  });

  client.put("/user/:userId/rooms/:roomId/tags/:tag", requireAuth, async (c) => {
    const userId = ownUserId(c);
    const roomId = validRoomIdParam(c);
    const tag = (await readJsonBody(c, tagSchema, true)) as JsonObject;
    const tags = { ...(await currentTags(c, userId, roomId)), [c.req.param("tag")]: tag };
    await writeAccountData(c, userId, roomId, TAG_EVENT, { tags });
    return c.json({});
  });

  client.delete("/user/:userId/rooms/:roomId/tags/:tag", requireAuth, async (c) => {
    const userId = ownUserId(c);
    const roomId = validRoomIdParam(c);
    const tags = { ...(await currentTags(c, userId, roomId)) };
    delete tags[c.req.param("tag")];
    await writeAccountData(c, userId, roomId, TAG_EVENT, { tags });
    return c.json({});
  });
}
