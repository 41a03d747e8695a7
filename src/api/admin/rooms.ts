/** Room administration, as Synapse's `/_synapse/admin/v1/rooms/<room_id_or_alias>/...` admin API. */
import type { Hono } from "hono";
import type { AppEnv } from "../../http/context";
import { unwrapRoomResult } from "../../rooms/room-rpc";
import { roomStub } from "../../rooms/room-stub";
import { resolveRoomIdOrAlias } from "../client-server/room-aliases";
import { requireAdmin } from "./admin-auth";

export function registerAdminRoomRoutes(admin: Hono<AppEnv>): void {
  admin.get("/v1/rooms/:roomIdOrAlias/forward_extremities", requireAdmin, async (c) => {
    const roomId = await resolveRoomIdOrAlias(c.get("database").db, c.req.param("roomIdOrAlias"));
    const results = unwrapRoomResult(await roomStub(c, roomId).getForwardExtremities(roomId));
    return c.json({ count: results.length, results });
  });
}
