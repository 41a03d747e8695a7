/**
 * Unknown endpoints and methods answer M_UNRECOGNIZED as the spec requires: 404 for a path no route
 * knows, 405 for a known path with another method.
 */
import type { Hono } from "hono";
import type { AppEnv } from "./context";
import { MatrixError } from "./errors";

/** Call after a router's routes are registered: adds a 405 catch-all behind every concrete path. */
export function answerUnknownMethods(router: Hono<AppEnv>): void {
  const paths = new Set(router.routes.filter((route) => route.method !== "ALL").map((route) => route.path));
  for (const path of paths) {
    router.all(path, () => {
      throw new MatrixError(405, "M_UNRECOGNIZED", "Unrecognized request: method not allowed");
    });
  }
}

export function unrecognizedEndpoint(): MatrixError {
  return new MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request");
}
