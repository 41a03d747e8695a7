/** GET /_matrix/client/versions (spec: "Client-Server API versions"). */
import type { Hono } from "hono";
import type { AppEnv } from "../../http/context";

/**
 * Spec versions whose client-server APIs this server implements in the parts clients depend on (see
 * README.md "What is supported" for what is still missing). Clients switch features on by these: v1.11
 * must be listed for them to use authenticated media, the only media API this server serves new media on.
 */
export const SUPPORTED_SPEC_VERSIONS = [
  "r0.5.0",
  "r0.6.0",
  "r0.6.1",
  "v1.1",
  "v1.2",
  "v1.3",
  "v1.4",
  "v1.5",
  "v1.6",
  "v1.7",
  "v1.8",
  "v1.9",
  "v1.10",
  "v1.11",
] as const;

/** Unstable features (MSCs) this server implements, under the names clients look for. */
const UNSTABLE_FEATURES = {
  /** Dehydrated devices (see dehydrated-devices.ts). */
  "org.matrix.msc3814": true,
} as const;

export function registerVersionsRoutes(app: Hono<AppEnv>): void {
  app.get("/_matrix/client/versions", (c) =>
    c.json({ versions: [...SUPPORTED_SPEC_VERSIONS], unstable_features: UNSTABLE_FEATURES }),
  );
}
