/**
 * What the media routes share: the routers they are mounted on, and finding a local media item's content
 * in R2, waiting for it (up to `timeout_ms`) while an asynchronous upload is still to come.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import { isValidServerName } from "../../core/identifiers";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam, notFound } from "../../http/errors";
import { contentKey, findMedia, isWellFormedMediaId, mayStillBeUploaded } from "../../media/store";

/** The content repository's mount points: `/_matrix/media/{v3,r0,v1}` and the authenticated `/_matrix/client/v1`. */
export interface MediaRouters {
  /** Every version prefix of the content repository: /_matrix/media/v3, /r0 and /v1 (as Synapse serves them). */
  legacy: Hono<AppEnv>[];
  /** /_matrix/media/v3, for what exists only there. */
  v3: Hono<AppEnv>;
  /** /_matrix/media/v1, for what exists only there. */
  v1: Hono<AppEnv>;
  /** /_matrix/client/v1 (authenticated media). */
  clientV1: Hono<AppEnv>;
}

/**
 * After requireAuth on what guests may not do: Synapse lets guests download and thumbnail media, but not
 * upload it, create URIs, read the configuration or preview URLs.
 */
export const refuseGuests: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.get("requester").isGuest) throw new MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access not allowed");
  await next();
};

/** The spec's default wait for content that is not uploaded yet, and Synapse's ceiling for it. */
const DEFAULT_TIMEOUT_MS = 20_000;
const MAX_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 1_000;

export function parseIntegerParam(c: Context<AppEnv>, name: string): number | undefined {
  const value = c.req.query(name);
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw invalidParam(`Query parameter ${name} must be a non-negative integer`);
  return Number(value);
}

export function parseBooleanParam(c: Context<AppEnv>, name: string): boolean | undefined {
  const value = c.req.query(name);
  if (value === undefined) return undefined;
  if (value !== "true" && value !== "false") throw invalidParam(`Query parameter ${name} must be true or false`);
  return value === "true";
}

/**
 * Checks that an `mxc://` authority and media ID name local media. Remote media would be fetched over
 * federation, which this server does not do yet, so it is reported as not found.
 */
export function requireLocalMedia(c: Context<AppEnv>, serverName: string, mediaId: string): void {
  if (!isValidServerName(serverName)) throw invalidParam("Invalid server name");
  if (serverName !== c.get("config").serverName || !isWellFormedMediaId(mediaId)) throw notFound("Not found");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The stored object for a local media ID, read with `read`. When there is none yet but an asynchronous
 * upload may still bring it, polls until `timeout_ms` runs out and then answers 504 M_NOT_YET_UPLOADED.
 */
export async function loadContent<T extends R2Object>(
  c: Context<AppEnv>,
  mediaId: string,
  read: (key: string) => Promise<T | null>,
): Promise<T> {
  const key = contentKey(mediaId);
  const found = await read(key);
  if (found) return found;
  const row = await findMedia(c.get("database").db, mediaId);
  if (!row || !mayStillBeUploaded(row, Date.now())) throw notFound("Not found");
  const deadline = Date.now() + Math.min(parseIntegerParam(c, "timeout_ms") ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
  while (Date.now() < deadline) {
    await sleep(Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
    const object = await read(key);
    if (object) return object;
  }
  throw new MatrixError(504, "M_NOT_YET_UPLOADED", "Content has not yet been uploaded");
}
