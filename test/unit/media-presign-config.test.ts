import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { test } from "node:test";
import { loadConfig, type R2PresignConfig } from "../../src/config";
import { amzDate, presignedDownloadUrl } from "../../src/media/presign";

const presign: R2PresignConfig = {
  endpoint: "https://0123456789abcdef.r2.cloudflarestorage.com",
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  bucket: "matrix-media",
  minSize: 0,
  expirySeconds: 300,
};

/** AWS's URI encoding for SigV4: everything but unreserved characters is %XX. */
const awsEncode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

/** SigV4 query signing written out from AWS's specification, to check the presigned URL independently. */
function expectedSignature(url: URL, secret: string, datetime: string): string {
  const query = [...url.searchParams.entries()]
    .filter(([name]) => name !== "X-Amz-Signature")
    .map(([name, value]) => `${awsEncode(name)}=${awsEncode(value)}`)
    .sort()
    .join("&");
  const canonicalRequest = ["GET", url.pathname, query, `host:${url.host}`, "", "host", "UNSIGNED-PAYLOAD"].join("\n");
  const date = datetime.slice(0, 8);
  const scope = `${date}/auto/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", datetime, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
  let key: Buffer = createHmac("sha256", `AWS4${secret}`).update(date).digest();
  for (const part of ["auto", "s3", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  return createHmac("sha256", key).update(stringToSign).digest("hex");
}

test("presigned R2 URLs are SigV4 query-signed and carry the response headers", async () => {
  const now = new Date("2026-07-21T21:42:20.123Z");
  const signed = new URL(
    await presignedDownloadUrl(presign, "local_content/AbCdEf", {
      contentType: "image/png",
      contentDisposition: "inline; filename*=utf-8''%E6%97%A5.png",
    }, now),
  );
  assert.equal(signed.origin, presign.endpoint);
  assert.equal(signed.pathname, "/matrix-media/local_content/AbCdEf");
  const params = signed.searchParams;
  assert.equal(params.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
  assert.equal(params.get("X-Amz-Credential"), "AKIDEXAMPLE/20260721/auto/s3/aws4_request");
  assert.equal(params.get("X-Amz-Date"), amzDate(now));
  assert.equal(params.get("X-Amz-Date"), "20260721T214220Z");
  assert.equal(params.get("X-Amz-Expires"), "300");
  assert.equal(params.get("X-Amz-SignedHeaders"), "host");
  assert.equal(params.get("response-content-type"), "image/png");
  assert.equal(params.get("response-content-disposition"), "inline; filename*=utf-8''%E6%97%A5.png");
  assert.equal(params.get("X-Amz-Signature"), expectedSignature(signed, presign.secretAccessKey, "20260721T214220Z"));
});

test("media settings: sizes with units, thumbnail sizes, IP ranges and all-or-nothing R2 credentials", () => {
  const defaults = loadConfig({});
  assert.equal(defaults.media.maxUploadSize, 50 * 1024 * 1024);
  assert.equal(defaults.media.maxImagePixels, 32 * 1024 * 1024);
  assert.equal(defaults.media.thumbnailSizes.length, 5);
  assert.equal(defaults.media.urlPreview.enabled, false);
  assert.equal(defaults.media.presign, undefined);
  const custom = loadConfig({
    MAX_UPLOAD_SIZE: "512K",
    MAX_IMAGE_PIXELS: "1000000",
    THUMBNAIL_SIZES: "64x64-crop, 1024x768-scale",
    URL_PREVIEW_ENABLED: "true",
    URL_PREVIEW_IP_RANGE_BLACKLIST: "8.8.8.0/24, 2001:4860::/32",
    R2_S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com/",
    R2_ACCESS_KEY_ID: "id",
    R2_SECRET_ACCESS_KEY: "secret",
    R2_BUCKET: "matrix-media",
  });
  assert.equal(custom.media.maxUploadSize, 512 * 1024);
  assert.equal(custom.media.maxImagePixels, 1_000_000);
  assert.deepEqual(custom.media.thumbnailSizes, [
    { width: 64, height: 64, method: "crop" },
    { width: 1024, height: 768, method: "scale" },
  ]);
  assert.deepEqual(custom.media.urlPreview.ipRangeBlacklist.map((range) => range.text), ["8.8.8.0/24", "2001:4860::/32"]);
  assert.equal(custom.media.presign?.endpoint, "https://acct.r2.cloudflarestorage.com");
  assert.equal(custom.media.presign?.minSize, 1024 * 1024);
  assert.throws(() => loadConfig({ MAX_UPLOAD_SIZE: "lots" }), /MAX_UPLOAD_SIZE/);
  assert.throws(() => loadConfig({ THUMBNAIL_SIZES: "64x64-stretch" }), /THUMBNAIL_SIZES/);
  assert.throws(() => loadConfig({ URL_PREVIEW_IP_RANGE_BLACKLIST: "10.0.0.0/40" }), /URL_PREVIEW_IP_RANGE_BLACKLIST/);
  assert.throws(() => loadConfig({ R2_S3_ENDPOINT: "https://acct.r2.cloudflarestorage.com" }), /go together/);
});
