/** Server discovery: /.well-known/matrix/client and /.well-known/matrix/server (spec: "Server Discovery"). */
import type { Hono } from "hono";
import type { AppEnv } from "../../http/context";
import { notFound } from "../../http/errors";

export function registerWellKnownRoutes(app: Hono<AppEnv>): void {
  app.get("/.well-known/matrix/client", (c) => {
    const baseUrl = c.get("config").publicBaseUrl ?? new URL(c.req.url).origin;
    return c.json({ "m.homeserver": { base_url: baseUrl } });
  });
  app.get("/.well-known/matrix/server", (c) => {
    const delegated = c.get("config").wellKnownServer;
    if (delegated === undefined) throw notFound("No .well-known/matrix/server is configured");
    return c.json({ "m.server": delegated });
  });
  app.get("/health", (c) => c.text("OK"));
}
