/** GET /capabilities (spec: "Capabilities negotiation"). */
import type { Hono } from "hono";
import { ROOM_VERSIONS } from "../../core/room-versions";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";

export function registerCapabilitiesRoutes(client: Hono<AppEnv>): void {
  client.get("/capabilities", requireAuth, (c) => {
    const available = Object.fromEntries([...ROOM_VERSIONS.keys()].map((id) => [id, "stable"]));
    return c.json({
      capabilities: {
        "m.change_password": { enabled: true },
        "m.room_versions": { default: c.get("config").defaultRoomVersion, available },
        "m.set_displayname": { enabled: true },
        "m.set_avatar_url": { enabled: true },
        "m.3pid_changes": { enabled: false },
        "m.get_login_token": { enabled: false },
        "m.profile_fields": { enabled: true },
      },
    });
  });
}
