/**
 * GET /_matrix/client/v1/media/config and the deprecated GET /_matrix/media/v3/config (spec: "Content
 * repository"). Both need an access token, as the legacy one always did.
 */
import type { Context } from "hono";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { refuseGuests, type MediaRouters } from "./content";

const mediaConfig = (c: Context<AppEnv>) => c.json({ "m.upload.size": c.get("config").media.maxUploadSize });

export function registerMediaConfigRoutes(routers: MediaRouters): void {
  routers.clientV1.get("/media/config", requireAuth, refuseGuests, mediaConfig);
  for (const router of routers.legacy) router.get("/config", requireAuth, refuseGuests, mediaConfig);
}
