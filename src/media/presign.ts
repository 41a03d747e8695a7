/**
 * Presigned R2 download URLs (S3 API, SigV4 query signing) so large downloads can be redirected to R2
 * instead of streaming through the Worker. The signed URL carries the headers R2 must answer with, so the
 * client still gets the right Content-Type and Content-Disposition.
 */
import { AwsV4Signer } from "aws4fetch";
import type { R2PresignConfig } from "../config";

export interface PresignedResponseHeaders {
  contentType: string;
  contentDisposition: string;
}

/** SigV4's timestamp form: 20260721T214220Z. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

export async function presignedDownloadUrl(
  config: R2PresignConfig,
  key: string,
  headers: PresignedResponseHeaders,
  now: Date = new Date(),
): Promise<string> {
  const url = new URL(`${config.endpoint}/${encodeURIComponent(config.bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`);
  url.searchParams.set("X-Amz-Expires", String(config.expirySeconds));
  url.searchParams.set("response-content-type", headers.contentType);
  url.searchParams.set("response-content-disposition", headers.contentDisposition);
  const signer = new AwsV4Signer({
    method: "GET",
    url: url.toString(),
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    service: "s3",
    region: "auto",
    signQuery: true,
    datetime: amzDate(now),
  });
  const signed = await signer.sign();
  return signed.url.toString();
}
