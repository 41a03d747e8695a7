/**
 * Downloads (spec: "Content repository"). Authenticated media, GET /_matrix/client/v1/media/download/…,
 * serves content from R2 (or redirects to a presigned R2 URL when configured). The deprecated
 * unauthenticated /_matrix/media/v3/download is frozen, as the spec's deprecation allows and Synapse's
 * `enable_authenticated_media` does: media uploaded after the freeze is not served there, and all media
 * on this server was uploaded with authenticated media on, so the answer there is always 404.
 */
import type { Context } from "hono";
import { isValidServerName } from "../../core/identifiers";
import { requireAuth } from "../../http/authentication";
import type { AppEnv } from "../../http/context";
import { invalidParam, notFound } from "../../http/errors";
import { downloadHeaders } from "../../media/content-headers";
import { presignedDownloadUrl } from "../../media/presign";
import { storedMetadata } from "../../media/store";
import { loadContent, requireLocalMedia, type MediaRouters } from "./content";

async function download(c: Context<AppEnv>, fileName: string | undefined): Promise<Response> {
  const serverName = c.req.param("serverName") ?? "";
  const mediaId = c.req.param("mediaId") ?? "";
  requireLocalMedia(c, serverName, mediaId);
  const bucket = c.env.MEDIA;
  const presign = c.get("config").media.presign;
  if (presign) {
    const head = await loadContent(c, mediaId, (key) => bucket.head(key));
    if (head.size >= presign.minSize) {
      const metadata = storedMetadata(head);
      const headers = downloadHeaders(metadata.contentType, fileName ?? metadata.uploadName);
      const location = await presignedDownloadUrl(presign, head.key, {
        contentType: headers["Content-Type"] ?? metadata.contentType,
        contentDisposition: headers["Content-Disposition"] ?? "attachment",
      });
      // The signed URL expires: clients must come back here rather than cache the redirect.
      return c.body(null, 307, { Location: location, "Cache-Control": "no-store" });
    }
  }
  const conditions = new Headers();
  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch) conditions.set("if-none-match", ifNoneMatch);
  const object = await loadContent(c, mediaId, (key) => bucket.get(key, { onlyIf: conditions }));
  const metadata = storedMetadata(object);
  const headers = { ...downloadHeaders(metadata.contentType, fileName ?? metadata.uploadName), ETag: object.httpEtag };
  // Without a body, R2 is saying the client's copy (If-None-Match) is current.
  if (!("body" in object)) return c.body(null, 304, headers);
  return c.body(object.body as ReadableStream, 200, { ...headers, "Content-Length": String(object.size) });
}

export function registerDownloadRoutes(routers: MediaRouters): void {
  routers.clientV1.get("/media/download/:serverName/:mediaId", requireAuth, (c) => download(c, undefined));
  routers.clientV1.get("/media/download/:serverName/:mediaId/:fileName", requireAuth, (c) =>
    download(c, c.req.param("fileName")),
  );

  const frozen = (c: Context<AppEnv>) => {
    if (!isValidServerName(c.req.param("serverName") ?? "")) throw invalidParam("Invalid server name");
    throw notFound("Not found");
  };
  for (const router of routers.legacy) {
    router.get("/download/:serverName/:mediaId", frozen);
    router.get("/download/:serverName/:mediaId/:fileName", frozen);
  }
}
