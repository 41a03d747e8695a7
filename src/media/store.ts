/**
 * The local media repository: bytes in R2, one Postgres row per `mxc://` URI. R2 is the authority on
 * whether content exists, so serving media needs no Postgres query; Postgres answers who uploaded what,
 * what is still pending, and for how long.
 */
import { and, count, eq, gt, isNull, lt, min, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { media } from "../db/schema";
import { randomString } from "../core/crypto/secrets";
import { MatrixError } from "../http/errors";
import type { ThumbnailPlan } from "./thumbnail-sizing";

export type MediaRow = typeof media.$inferSelect;

/** Synapse's media IDs: 24 random letters (no digits, so IDs never look like numbers). */
export const newMediaId = (): string => randomString(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

/** Media IDs we could have issued; anything else is refused before touching storage. */
export const isWellFormedMediaId = (mediaId: string): boolean => /^[A-Za-z0-9_-]{1,255}$/.test(mediaId);

export const contentKey = (mediaId: string): string => `local_content/${mediaId}`;

/** Synapse's thumbnail path scheme: `<width>-<height>-<type with / as ->-<method>`. */
export function thumbnailKey(mediaId: string, plan: ThumbnailPlan, contentType: string): string {
  return `local_thumbnails/${mediaId}/${plan.width}-${plan.height}-${contentType.replace("/", "-")}-${plan.method}`;
}

/** Marks content the image decoder failed on, so it is not decoded again. */
export const undecodableKey = (mediaId: string): string => `local_thumbnails/${mediaId}/undecodable`;

/**
 * File names travel with the bytes as R2 custom metadata, which is limited to 8 KiB per object; 1 KiB of
 * UTF-8 (at most 3 KiB once %-encoded) is far more than any file system allows.
 */
export const MAX_FILE_NAME_BYTES = 1024;

export const isStorableFileName = (name: string): boolean => new TextEncoder().encode(name).byteLength <= MAX_FILE_NAME_BYTES;

/** What R2 keeps beside the bytes, so a download needs nothing from Postgres. */
export interface StoredMetadata {
  contentType: string;
  uploadName: string | undefined;
}

export function storedMetadata(object: R2Object): StoredMetadata {
  const uploadName = object.customMetadata?.uploadName;
  return {
    contentType: object.httpMetadata?.contentType ?? "application/octet-stream",
    uploadName: uploadName === undefined ? undefined : decodeURIComponent(uploadName),
  };
}

/**
 * Streams a request body of exactly `length` bytes into R2. The FixedLengthStream both gives R2 the
 * length it needs up front and fails the upload if the body is longer or shorter than declared.
 */
export async function putContent(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array> | Uint8Array | null,
  length: number,
  metadata: StoredMetadata,
): Promise<void> {
  const options: R2PutOptions = {
    httpMetadata: { contentType: metadata.contentType },
    customMetadata: metadata.uploadName === undefined ? {} : { uploadName: encodeURIComponent(metadata.uploadName) },
  };
  if (body === null || body instanceof Uint8Array) {
    const bytes = body ?? new Uint8Array(0);
    if (bytes.byteLength !== length) throw new MatrixError(400, "M_UNKNOWN", "Upload is not as long as its Content-Length");
    await bucket.put(key, bytes, options);
    return;
  }
  const fixed = new FixedLengthStream(length);
  const piped = body.pipeTo(fixed.writable);
  try {
    await Promise.all([bucket.put(key, fixed.readable, options), piped]);
  } catch {
    throw new MatrixError(400, "M_UNKNOWN", "Upload is not as long as its Content-Length");
  }
}

export async function insertUploadedMedia(
  db: Database,
  row: { mediaId: string; userId: string; mediaType: string; uploadName: string | undefined; mediaLength: number; urlCache?: string },
): Promise<void> {
  const now = Date.now();
  await db.insert(media).values({
    mediaId: row.mediaId,
    userId: row.userId,
    mediaType: row.mediaType,
    uploadName: row.uploadName ?? null,
    mediaLength: row.mediaLength,
    createdTs: now,
    uploadedTs: now,
    urlCache: row.urlCache ?? null,
  });
}

export async function findMedia(db: Database, mediaId: string): Promise<MediaRow | undefined> {
  const [row] = await db.select().from(media).where(eq(media.mediaId, mediaId));
  return row;
}

/** Whether content may still arrive for a row: pending and not yet lapsed, or being uploaded right now. */
export function mayStillBeUploaded(row: MediaRow, now: number): boolean {
  if (row.uploadedTs !== null) return false;
  return (row.unusedExpiresTs ?? 0) > now || (row.uploadLockedUntilTs ?? 0) > now;
}

/**
 * Creates a pending `mxc://` URI unless the user already has `maxPending` of them (the spec's
 * M_LIMIT_EXCEEDED, retryable once the oldest lapses). The user's lapsed URIs are deleted on the way.
 */
export async function createPendingMedia(
  db: Database,
  userId: string,
  expirationMs: number,
  maxPending: number,
): Promise<{ mediaId: string; unusedExpiresTs: number } | { retryAfterMs: number }> {
  const now = Date.now();
  const pendingOf = and(eq(media.userId, userId), isNull(media.uploadedTs));
  await db
    .delete(media)
    .where(
      and(
        pendingOf,
        lt(media.unusedExpiresTs, now),
        or(isNull(media.uploadLockedUntilTs), lt(media.uploadLockedUntilTs, now)),
      ),
    );
  const [pending] = await db
    .select({ pending: count(), firstExpiry: min(media.unusedExpiresTs) })
    .from(media)
    .where(and(pendingOf, gt(media.unusedExpiresTs, now)));
  if (pending && pending.pending >= maxPending) return { retryAfterMs: (pending.firstExpiry ?? now) - now };
  const mediaId = newMediaId();
  const unusedExpiresTs = now + expirationMs;
  await db.insert(media).values({ mediaId, userId, createdTs: now, unusedExpiresTs });
  return { mediaId, unusedExpiresTs };
}

/** How long a PUT holds a pending URI; a crashed upload frees it after this. */
const UPLOAD_LOCK_MS = 60 * 60 * 1000;

/**
 * Claims a pending URI for a PUT, or says why not with the spec's errors: unknown or lapsed (404),
 * someone else's (403), already uploaded or being uploaded (409 M_CANNOT_OVERWRITE_MEDIA).
 */
export async function claimPendingMedia(db: Database, mediaId: string, userId: string): Promise<void> {
  const now = Date.now();
  const claimed = await db
    .update(media)
    .set({ uploadLockedUntilTs: now + UPLOAD_LOCK_MS })
    .where(
      and(
        eq(media.mediaId, mediaId),
        eq(media.userId, userId),
        isNull(media.uploadedTs),
        gt(media.unusedExpiresTs, now),
        or(isNull(media.uploadLockedUntilTs), lt(media.uploadLockedUntilTs, now)),
      ),
    )
    .returning({ mediaId: media.mediaId });
  if (claimed.length > 0) return;
  const row = await findMedia(db, mediaId);
  if (!row || (row.uploadedTs === null && !mayStillBeUploaded(row, now))) {
    throw new MatrixError(404, "M_NOT_FOUND", "Unknown media ID");
  }
  if (row.userId !== userId) throw new MatrixError(403, "M_FORBIDDEN", "You may not upload to this media ID");
  throw new MatrixError(409, "M_CANNOT_OVERWRITE_MEDIA", "Media ID already has content");
}

export async function completePendingMedia(
  db: Database,
  mediaId: string,
  content: { mediaType: string; uploadName: string | undefined; mediaLength: number },
): Promise<void> {
  await db
    .update(media)
    .set({
      mediaType: content.mediaType,
      uploadName: content.uploadName ?? null,
      mediaLength: content.mediaLength,
      uploadedTs: Date.now(),
      uploadLockedUntilTs: null,
    })
    .where(eq(media.mediaId, mediaId));
}

/** Frees a claimed URI after a failed PUT, so the client can try again before it lapses. */
export async function releasePendingMedia(db: Database, mediaId: string): Promise<void> {
  await db.update(media).set({ uploadLockedUntilTs: null }).where(and(eq(media.mediaId, mediaId), isNull(media.uploadedTs)));
}
