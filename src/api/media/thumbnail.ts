/**
 * Thumbnails (spec: "Thumbnails"): GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}. The
 * request is answered with the closest of the configured thumbnail sizes, rendered on first request and
 * cached in R2. The deprecated /_matrix/media/v3/thumbnail is frozen like legacy downloads.
 */
import type { Context } from "hono";
import { isValidServerName } from "../../core/identifiers";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam, missingParam, notFound } from "../../http/errors";
import { MEDIA_SECURITY_HEADERS, essence } from "../../media/content-headers";
import { orientedSize, readImageInfo, type ImageInfo } from "../../media/image-info";
import { contentKey, thumbnailKey, undecodableKey } from "../../media/store";
import { renderThumbnail, thumbnailContentType, type Thumbnail } from "../../media/thumbnailer";
import { selectThumbnail, type ThumbnailMethod } from "../../media/thumbnail-sizing";
import { loadContent, parseBooleanParam, parseIntegerParam, requireLocalMedia, type MediaRouters } from "./content";

/** Upload types we try to thumbnail; the bytes themselves must then be one of the formats we decode. */
const THUMBNAILABLE_TYPES = new Set(["image/jpeg", "image/jpg", "image/png", "image/gif", "image/webp"]);

/** Enough of the file to find the dimensions in any sane image header (JPEG's can follow large EXIF blocks). */
const HEADER_BYTES = 256 * 1024;

const cannotThumbnail = () =>
  new MatrixError(400, "M_UNKNOWN", "Cannot generate thumbnails for the requested content");

function parseDimension(c: Context<AppEnv>, name: "width" | "height"): number {
  const value = parseIntegerParam(c, name);
  if (value === undefined) throw missingParam(`Missing query parameter: ${name}`);
  if (value < 1) throw invalidParam(`Query parameter ${name} must be positive`);
  return value;
}

function parseMethod(c: Context<AppEnv>): ThumbnailMethod {
  const method = c.req.query("method") ?? "scale";
  if (method !== "scale" && method !== "crop") throw invalidParam("Query parameter method must be crop or scale");
  return method;
}

function thumbnailResponse(c: Context<AppEnv>, body: ReadableStream | Uint8Array, contentType: string, length: number) {
  const extension = contentType === "image/jpeg" ? "jpg" : "png";
  return c.body(body as ReadableStream, 200, {
    ...MEDIA_SECURITY_HEADERS,
    "Content-Type": contentType,
    "Content-Disposition": `inline; filename=thumbnail.${extension}`,
    "Content-Length": String(length),
    "Cache-Control": "public, max-age=86400, s-maxage=0, proxy-revalidate",
  });
}

/** The image's format and dimensions, from its first bytes (the whole file only for JPEGs with huge metadata). */
async function readStoredImageInfo(bucket: R2Bucket, object: R2Object): Promise<ImageInfo | undefined> {
  if (object.size === 0) return undefined;
  const prefix = await bucket.get(object.key, { range: { offset: 0, length: Math.min(object.size, HEADER_BYTES) } });
  if (!prefix) return undefined;
  const bytes = new Uint8Array(await prefix.arrayBuffer());
  const info = readImageInfo(bytes);
  const truncatedJpeg = !info && object.size > HEADER_BYTES && bytes[0] === 0xff && bytes[1] === 0xd8;
  if (!truncatedJpeg) return info;
  const whole = await bucket.get(object.key);
  return whole ? readImageInfo(new Uint8Array(await whole.arrayBuffer())) : undefined;
}

async function thumbnail(c: Context<AppEnv>): Promise<Response> {
  const serverName = c.req.param("serverName") ?? "";
  const mediaId = c.req.param("mediaId") ?? "";
  requireLocalMedia(c, serverName, mediaId);
  const width = parseDimension(c, "width");
  const height = parseDimension(c, "height");
  const method = parseMethod(c);
  // Animated thumbnails are not produced; the spec lets the server answer with a static one.
  parseBooleanParam(c, "animated");
  const { maxImagePixels, thumbnailSizes } = c.get("config").media;

  const bucket = c.env.MEDIA;
  const original = await loadContent(c, mediaId, (key) => bucket.head(key));
  if (!THUMBNAILABLE_TYPES.has(essence(original.httpMetadata?.contentType ?? ""))) throw cannotThumbnail();
  const info = await readStoredImageInfo(bucket, original);
  if (!info || info.width < 1 || info.height < 1) throw cannotThumbnail();
  if (info.width * info.height > maxImagePixels) {
    throw new MatrixError(413, "M_TOO_LARGE", "Content is too large to thumbnail");
  }
  const displayed = orientedSize(info);
  const plan = selectThumbnail(displayed.width, displayed.height, width, height, method, thumbnailSizes);
  if (!plan) throw cannotThumbnail();

  const contentType = thumbnailContentType(info);
  const key = thumbnailKey(mediaId, plan, contentType);
  const cached = await bucket.get(key);
  if (cached) return thumbnailResponse(c, cached.body, contentType, cached.size);

  // A decoder failure (a corrupt or truncated image) aborts inside WebAssembly and strands what it had
  // allocated, so each image is only ever tried once.
  const failureKey = undecodableKey(mediaId);
  if (await bucket.head(failureKey)) throw cannotThumbnail();
  const source = await bucket.get(contentKey(mediaId));
  if (!source) throw notFound("Not found");
  let rendered: Thumbnail;
  try {
    rendered = await renderThumbnail(new Uint8Array(await source.arrayBuffer()), info, plan);
  } catch (error) {
    console.warn(`thumbnailing ${mediaId} failed:`, error instanceof Error ? error.message : error);
    c.executionCtx.waitUntil(bucket.put(failureKey, new Uint8Array(0)));
    throw cannotThumbnail();
  }
  c.executionCtx.waitUntil(bucket.put(key, rendered.bytes, { httpMetadata: { contentType } }));
  return thumbnailResponse(c, rendered.bytes, contentType, rendered.bytes.byteLength);
}

export function registerThumbnailRoutes(routers: MediaRouters): void {
  routers.clientV1.get("/media/thumbnail/:serverName/:mediaId", requireAuth, thumbnail);
  for (const router of routers.legacy) {
    router.get("/thumbnail/:serverName/:mediaId", (c) => {
      if (!isValidServerName(c.req.param("serverName"))) throw invalidParam("Invalid server name");
      throw notFound("Not found");
    });
  }
}
