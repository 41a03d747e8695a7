/**
 * URL previews (spec: GET /_matrix/client/v1/media/preview_url, and the deprecated
 * /_matrix/media/v3/preview_url, which always needed an access token). Off unless URL_PREVIEW_ENABLED;
 * when off the endpoint answers 403 M_FORBIDDEN, as Synapse does with MSC4452.
 *
 * A page's OpenGraph data is cached in Postgres per download, and its image is stored as local media so
 * `og:image` is an `mxc://` URI (clients never fetch the third-party URL themselves).
 */
import { and, asc, desc, eq, gt, lte } from "drizzle-orm";
import type { Context } from "hono";
import type { Database } from "../../db/client";
import { urlPreviews } from "../../db/schema";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam, missingParam } from "../../http/errors";
import { essence, isAcceptableContentType } from "../../media/content-headers";
import { orientedSize, readImageInfo } from "../../media/image-info";
import { declaredCharset, parseOpenGraph } from "../../media/open-graph";
import { contentKey, insertUploadedMedia, isStorableFileName, newMediaId, putContent } from "../../media/store";
import { fetchForPreview, type FetchLimits, type FetchedResource } from "../../media/url-fetcher";
import { parseIntegerParam, refuseGuests, type MediaRouters } from "./content";

type Preview = Record<string, string | number>;

/** Synapse keeps a downloaded preview for an hour. */
const PREVIEW_LIFETIME_MS = 60 * 60 * 1000;

const isHtml = (contentType: string) => ["text/html", "application/xhtml+xml"].includes(essence(contentType));
const isImage = (contentType: string) => essence(contentType).startsWith("image/");

/** The cached preview downloaded closest before `ts` (or the oldest after it), if still valid at `ts`. */
async function cachedPreview(db: Database, url: string, ts: number): Promise<Preview | undefined> {
  const columns = { og: urlPreviews.og, expiresTs: urlPreviews.expiresTs };
  const [before] = await db
    .select(columns)
    .from(urlPreviews)
    .where(and(eq(urlPreviews.url, url), lte(urlPreviews.downloadTs, ts)))
    .orderBy(desc(urlPreviews.downloadTs))
    .limit(1);
  const [entry] = before
    ? [before]
    : await db
        .select(columns)
        .from(urlPreviews)
        .where(and(eq(urlPreviews.url, url), gt(urlPreviews.downloadTs, ts)))
        .orderBy(asc(urlPreviews.downloadTs))
        .limit(1);
  return entry && entry.expiresTs > ts ? entry.og : undefined;
}

function decodeHtml(bytes: Uint8Array, contentType: string): string {
  // <meta charset> is ASCII in every charset a page may declare, so reading bytes as code points finds it.
  const charset =
    /charset=["']?([^\s;"']+)/i.exec(contentType)?.[1] ?? declaredCharset(String.fromCharCode(...bytes.subarray(0, 4096)));
  try {
    return new TextDecoder(charset ?? "utf-8").decode(bytes);
  } catch {
    // An unknown charset label: UTF-8 is the best remaining guess.
    return new TextDecoder("utf-8").decode(bytes);
  }
}

/** Stores a fetched image as local media and describes it the way previews do. */
async function storeImage(c: Context<AppEnv>, image: FetchedResource & { body: Uint8Array }): Promise<Preview> {
  const mediaId = newMediaId();
  const mediaType = isAcceptableContentType(image.contentType) ? image.contentType : "application/octet-stream";
  const uploadName = image.fileName !== undefined && isStorableFileName(image.fileName) ? image.fileName : undefined;
  await putContent(c.env.MEDIA, contentKey(mediaId), image.body, image.body.byteLength, { contentType: mediaType, uploadName });
  await insertUploadedMedia(c.get("database").db, {
    mediaId,
    userId: c.get("requester").userId,
    mediaType,
    uploadName,
    mediaLength: image.body.byteLength,
    urlCache: image.url,
  });
  const preview: Preview = {
    "og:image": `mxc://${c.get("config").serverName}/${mediaId}`,
    "og:image:type": essence(mediaType),
    "matrix:image:size": image.body.byteLength,
  };
  const info = readImageInfo(image.body);
  if (info) {
    const size = orientedSize(info);
    preview["og:image:width"] = size.width;
    preview["og:image:height"] = size.height;
  }
  return preview;
}

async function buildPreview(c: Context<AppEnv>, url: string, limits: FetchLimits): Promise<Preview> {
  const page = await fetchForPreview(url, limits, (type) => isHtml(type) || isImage(type));
  if (!page.body) return {};
  if (isImage(page.contentType)) {
    return { ...(page.fileName ? { "og:description": page.fileName } : {}), ...(await storeImage(c, { ...page, body: page.body })) };
  }
  const og: Preview = parseOpenGraph(decodeHtml(page.body, page.contentType), page.url);
  const imageUrl = og["og:image"];
  if (typeof imageUrl !== "string") return og;
  // The remote image URL must never reach the client: replace it with our copy, or drop it.
  delete og["og:image"];
  try {
    const image = await fetchForPreview(imageUrl, limits, isImage);
    if (image.body) Object.assign(og, await storeImage(c, { ...image, body: image.body }));
  } catch (error) {
    console.warn(`preview image ${imageUrl} skipped:`, error instanceof Error ? error.message : error);
  }
  return og;
}

async function previewUrl(c: Context<AppEnv>): Promise<Response> {
  const settings = c.get("config").media.urlPreview;
  if (!settings.enabled) throw new MatrixError(403, "M_FORBIDDEN", "URL previews are disabled");
  const url = c.req.query("url");
  if (!url) throw missingParam("Missing query parameter: url");
  try {
    new URL(url);
  } catch {
    throw invalidParam("Query parameter url is not a URL");
  }
  const ts = parseIntegerParam(c, "ts") ?? Date.now();
  const db = c.get("database").db;
  const cached = await cachedPreview(db, url, ts);
  if (cached) return c.json(cached);

  const limits: FetchLimits = {
    addresses: { blacklist: settings.ipRangeBlacklist, whitelist: settings.ipRangeWhitelist },
    maxBytes: settings.maxSpiderSize,
    timeoutMs: settings.timeoutMs,
    dnsResolver: settings.dnsResolver,
  };
  const preview = await buildPreview(c, url, limits);
  const now = Date.now();
  await db
    .insert(urlPreviews)
    .values({ url, downloadTs: now, expiresTs: now + PREVIEW_LIFETIME_MS, og: preview })
    .onConflictDoNothing();
  return c.json(preview);
}

export function registerPreviewRoutes(routers: MediaRouters): void {
  routers.clientV1.get("/media/preview_url", requireAuth, refuseGuests, previewUrl);
  for (const router of routers.legacy) router.get("/preview_url", requireAuth, refuseGuests, previewUrl);
}
