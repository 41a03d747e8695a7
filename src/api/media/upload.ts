/**
 * Uploads (spec: "Content repository"): POST /_matrix/media/v3/upload, and the asynchronous pair
 * POST /_matrix/media/v1/create + PUT /_matrix/media/v3/upload/{serverName}/{mediaId}. The body is the
 * raw content, streamed to R2 with its declared length enforced; it is never buffered as JSON.
 */
import type { Context } from "hono";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { MatrixError, invalidParam, limitExceeded } from "../../http/errors";
import { enforceRateLimit } from "../../http/rate-limit";
import { DEFAULT_CONTENT_TYPE, isAcceptableContentType } from "../../media/content-headers";
import {
  claimPendingMedia,
  completePendingMedia,
  contentKey,
  createPendingMedia,
  insertUploadedMedia,
  isStorableFileName,
  MAX_FILE_NAME_BYTES,
  newMediaId,
  putContent,
  releasePendingMedia,
} from "../../media/store";
import { refuseGuests, requireLocalMedia, type MediaRouters } from "./content";

interface UploadRequest {
  length: number;
  contentType: string;
  uploadName: string | undefined;
}

/** Reads and checks what describes an upload; the size limit is checked before any byte is read. */
function describeUpload(c: Context<AppEnv>): UploadRequest {
  const declared = c.req.header("content-length");
  // Without a length the body could not be streamed into R2 (which needs it up front); Synapse also requires it.
  if (declared === undefined) throw new MatrixError(411, "M_UNKNOWN", "Request must specify a Content-Length");
  if (!/^\d{1,15}$/.test(declared)) throw new MatrixError(400, "M_UNKNOWN", "Content-Length value is invalid");
  const length = Number(declared);
  if (length > c.get("config").media.maxUploadSize) {
    throw new MatrixError(413, "M_TOO_LARGE", "Upload request body is too large");
  }
  const header = c.req.header("content-type")?.trim();
  // A type that could not be served back verbatim is stored as opaque bytes (the spec allows octet-stream).
  const contentType = header && isAcceptableContentType(header) ? header : DEFAULT_CONTENT_TYPE;
  const uploadName = c.req.query("filename") || undefined;
  if (uploadName !== undefined && !isStorableFileName(uploadName)) {
    throw invalidParam(`filename must be at most ${MAX_FILE_NAME_BYTES} bytes of UTF-8`);
  }
  return { length, contentType, uploadName };
}

export function registerUploadRoutes(routers: MediaRouters): void {
  for (const router of routers.legacy) {
    router.post("/upload", requireAuth, refuseGuests, async (c) => {
      const upload = describeUpload(c);
      const mediaId = newMediaId();
      const key = contentKey(mediaId);
      await putContent(c.env.MEDIA, key, c.req.raw.body, upload.length, upload);
      try {
        await insertUploadedMedia(c.get("database").db, {
          mediaId,
          userId: c.get("requester").userId,
          mediaType: upload.contentType,
          uploadName: upload.uploadName,
          mediaLength: upload.length,
        });
      } catch (error) {
        // No row means nobody owns the bytes: do not leave them behind.
        c.executionCtx.waitUntil(c.env.MEDIA.delete(key));
        throw error;
      }
      return c.json({ content_uri: `mxc://${c.get("config").serverName}/${mediaId}` });
    });
  }

  routers.v1.post("/create", requireAuth, refuseGuests, async (c) => {
    const { userId } = c.get("requester");
    const { media, rateLimits, serverName } = c.get("config");
    await enforceRateLimit(c, `media_create:${userId}`, rateLimits.mediaCreate);
    const created = await createPendingMedia(c.get("database").db, userId, media.unusedExpirationMs, media.maxPendingUploads);
    if ("retryAfterMs" in created) throw limitExceeded(created.retryAfterMs);
    return c.json({ content_uri: `mxc://${serverName}/${created.mediaId}`, unused_expires_at: created.unusedExpiresTs });
  });

  routers.v3.put("/upload/:serverName/:mediaId", requireAuth, refuseGuests, async (c) => {
    const { serverName, mediaId } = c.req.param();
    requireLocalMedia(c, serverName, mediaId);
    const upload = describeUpload(c);
    const db = c.get("database").db;
    await claimPendingMedia(db, mediaId, c.get("requester").userId);
    const key = contentKey(mediaId);
    let stored = false;
    try {
      await putContent(c.env.MEDIA, key, c.req.raw.body, upload.length, upload);
      stored = true;
      await completePendingMedia(db, mediaId, {
        mediaType: upload.contentType,
        uploadName: upload.uploadName,
        mediaLength: upload.length,
      });
    } catch (error) {
      // Content in R2 counts as uploaded: without its row it must go, so the URI can be retried.
      if (stored) c.executionCtx.waitUntil(c.env.MEDIA.delete(key));
      await releasePendingMedia(db, mediaId);
      throw error;
    }
    return c.json({});
  });
}
