/** GET /_matrix/client/versions (spec: "Client-Server API versions"). */
import type { Hono } from "hono";
import type { AppEnv } from "../../http/context";

/**
 * Spec versions whose client-server APIs this server implements in the parts clients depend on.
 * Grows as the issues land; see README.md "What is supported".
 */
export const SUPPORTED_SPEC_VERSIONS = ["r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2", "v1.3"] as const;

export function registerVersionsRoutes(app: Hono<AppEnv>): void {
  app.get("/_matrix/client/versions", (c) =>
    c.json({ versions: [...SUPPORTED_SPEC_VERSIONS], unstable_features: {} }),
  );
}
