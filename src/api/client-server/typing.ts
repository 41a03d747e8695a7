/** Typing notifications (spec: "Typing Notifications"): held by the room's Durable Object, in memory. */
import type { Hono } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { forbidden } from "../../http/errors";
import { readJsonBody } from "../../http/request-body";
import { unwrapRoomResult } from "../../rooms/room-rpc";
import { requireRoomId, roomStub } from "../../rooms/room-stub";

const typingSchema = z.object({
  typing: z.boolean(),
  timeout: z.number().int().nonnegative().optional(),
});

/** Clients that give no timeout type for this long (Synapse's default). */
const DEFAULT_TYPING_TIMEOUT_MS = 30_000;

export function registerTypingRoutes(client: Hono<AppEnv>): void {
  client.put("/rooms/:roomId/typing/:userId", requireAuth, async (c) => {
    const roomId = requireRoomId(c.req.param("roomId"));
    const userId = c.req.param("userId");
    if (userId !== c.get("requester").userId) throw forbidden("Cannot set another user's typing state");
    const body = await readJsonBody(c, typingSchema);
    unwrapRoomResult(
      await roomStub(c, roomId).setTyping({
        roomId,
        userId,
        typing: body.typing,
        timeoutMs: body.timeout ?? DEFAULT_TYPING_TIMEOUT_MS,
      }),
    );
    return c.json({});
  });
}
