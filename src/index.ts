/**
 * The Worker: one Hono app serving the client-server and admin APIs.
 * Route files live under src/api/<area>/, one per spec section; Durable Objects under durable-objects/.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { registerSharedSecretRoutes } from "./api/admin/register";
import { registerAdminRoomRoutes } from "./api/admin/rooms";
import { registerRegistrationTokenRoutes } from "./api/admin/registration-tokens";
import { registerAccountRoutes } from "./api/client-server/account";
import { registerAccountDataRoutes } from "./api/client-server/account-data";
import { registerCapabilitiesRoutes } from "./api/client-server/capabilities";
import { registerCreateRoomRoutes } from "./api/client-server/create-room";
import { registerCrossSigningRoutes } from "./api/client-server/cross-signing";
import { MSC3814_PREFIX, registerDehydratedDeviceRoutes } from "./api/client-server/dehydrated-devices";
import { registerDeviceRoutes } from "./api/client-server/devices";
import { registerFilterRoutes } from "./api/client-server/filter";
import { registerKeyBackupRoutes } from "./api/client-server/key-backup";
import { registerKeyRoutes } from "./api/client-server/keys";
import { registerLoginRoutes } from "./api/client-server/login";
import { registerMembershipRoutes } from "./api/client-server/membership";
import { registerProfileRoutes } from "./api/client-server/profile";
import { registerRegistrationRoutes } from "./api/client-server/register";
import { registerRoomAliasRoutes } from "./api/client-server/room-aliases";
import { registerRoomEventRoutes } from "./api/client-server/room-events";
import { registerRoomHistoryRoutes } from "./api/client-server/room-history";
import { registerPresenceRoutes } from "./api/client-server/presence";
import { registerPushRuleRoutes } from "./api/client-server/push-rules";
import { registerReceiptRoutes } from "./api/client-server/receipts";
import { registerSyncRoutes } from "./api/client-server/sync";
import { registerTagRoutes } from "./api/client-server/tags";
import { registerToDeviceRoutes } from "./api/client-server/to-device";
import { registerTypingRoutes } from "./api/client-server/typing";
import { registerUserDirectoryRoutes } from "./api/client-server/user-directory";
import { UiaChallenge } from "./api/client-server/user-interactive-auth";
import { registerVersionsRoutes } from "./api/client-server/versions";
import { registerWellKnownRoutes } from "./api/client-server/well-known";
import { registerMediaConfigRoutes } from "./api/media/config";
import type { MediaRouters } from "./api/media/content";
import { registerDownloadRoutes } from "./api/media/download";
import { registerPreviewRoutes } from "./api/media/preview";
import { registerThumbnailRoutes } from "./api/media/thumbnail";
import { registerUploadRoutes } from "./api/media/upload";
import { loadConfig } from "./config";
import { DatabaseHandle } from "./db/client";
import type { AppEnv } from "./http/context";
import { MatrixError } from "./http/errors";
import { answerUnknownMethods, unrecognizedEndpoint } from "./http/routing";

export { RateLimiter } from "../durable-objects/rate-limiter";
export { Room } from "../durable-objects/room";
export { UserSessions } from "../durable-objects/user-sessions";
export { UserSync } from "../durable-objects/user-sync";

const app = new Hono<AppEnv>();

app.use(
  "*",
  cors({
    origin: "*",
    allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["X-Requested-With", "Content-Type", "Authorization", "Date"],
  }),
);

app.use("*", async (c, next) => {
  const config = loadConfig(c.env);
  const database = new DatabaseHandle(config);
  c.set("config", config);
  c.set("database", database);
  try {
    await next();
  } finally {
    c.executionCtx.waitUntil(database.close());
  }
});

const client = new Hono<AppEnv>();
registerCapabilitiesRoutes(client);
registerLoginRoutes(client);
registerAccountRoutes(client);
registerDeviceRoutes(client);
registerCreateRoomRoutes(client);
registerMembershipRoutes(client);
registerRoomEventRoutes(client);
registerRoomHistoryRoutes(client);
registerRoomAliasRoutes(client);
registerAccountDataRoutes(client);
registerTagRoutes(client);
registerProfileRoutes(client);
registerFilterRoutes(client);
registerSyncRoutes(client);
registerTypingRoutes(client);
registerReceiptRoutes(client);
registerPushRuleRoutes(client);
registerUserDirectoryRoutes(client);
registerPresenceRoutes(client);
registerKeyRoutes(client);
registerCrossSigningRoutes(client);
registerToDeviceRoutes(client);
registerKeyBackupRoutes(client);
const clientV1 = new Hono<AppEnv>();
registerRegistrationRoutes(client, clientV1);
const dehydratedDevices = new Hono<AppEnv>();
registerDehydratedDeviceRoutes(dehydratedDevices);
const admin = new Hono<AppEnv>();
registerSharedSecretRoutes(admin);
registerRegistrationTokenRoutes(admin);
registerAdminRoomRoutes(admin);
const mediaV3 = new Hono<AppEnv>();
const mediaR0 = new Hono<AppEnv>();
const mediaV1 = new Hono<AppEnv>();
const media: MediaRouters = { legacy: [mediaV3, mediaR0, mediaV1], v3: mediaV3, v1: mediaV1, clientV1 };
registerUploadRoutes(media);
registerDownloadRoutes(media);
registerThumbnailRoutes(media);
registerMediaConfigRoutes(media);
registerPreviewRoutes(media);

registerVersionsRoutes(app);
registerWellKnownRoutes(app);
for (const router of [client, clientV1, dehydratedDevices, admin, mediaV3, mediaR0, mediaV1, app]) answerUnknownMethods(router);
app.route("/_matrix/client/v3", client);
app.route("/_matrix/client/r0", client);
app.route("/_matrix/client/v1", clientV1);
app.route(MSC3814_PREFIX, dehydratedDevices);
app.route("/_synapse/admin", admin);
app.route("/_matrix/media/v3", mediaV3);
app.route("/_matrix/media/r0", mediaR0);
app.route("/_matrix/media/v1", mediaV1);

app.notFound(() => {
  throw unrecognizedEndpoint();
});

app.onError((error, c) => {
  if (error instanceof UiaChallenge) return c.json(error.body, 401);
  if (error instanceof MatrixError) {
    for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
    return c.json(error.toJSON(), error.status);
  }
  const cause = error instanceof Error && error.cause instanceof Error ? `\ncaused by: ${error.cause.stack ?? error.cause.message}` : "";
  console.error("unhandled error:", error instanceof Error ? (error.stack ?? error.message) + cause : error);
  return c.json({ errcode: "M_UNKNOWN", error: "Internal server error" }, 500);
});

export default app;
