import assert from "node:assert/strict";
import { test } from "node:test";
import {
  contentDisposition,
  downloadHeaders,
  isAcceptableContentType,
  isInlineContentType,
  servedContentType,
} from "../../src/media/content-headers";

test("only inert types are served inline; HTML, SVG and scripts are attachments", () => {
  for (const inline of ["image/png", "IMAGE/JPEG", "image/webp; q=1", "text/plain", "video/mp4", "audio/ogg", "application/json"]) {
    assert.ok(isInlineContentType(inline), inline);
  }
  for (const attachment of ["text/html", "image/svg+xml", "application/javascript", "text/javascript", "application/pdf", "application/octet-stream", "application/xhtml+xml"]) {
    assert.ok(!isInlineContentType(attachment), attachment);
  }
});

test("Content-Disposition carries the file name as a token or as RFC 5987 UTF-8", () => {
  assert.equal(contentDisposition("inline", undefined), "inline");
  assert.equal(contentDisposition("inline", "cat.png"), "inline; filename=cat.png");
  assert.equal(contentDisposition("attachment", "my file.html"), "attachment; filename*=utf-8''my%20file.html");
  assert.equal(contentDisposition("attachment", "naïve \"quoted\";.txt"), "attachment; filename*=utf-8''na%C3%AFve%20%22quoted%22%3B.txt");
  assert.equal(contentDisposition("inline", "日本.png"), "inline; filename*=utf-8''%E6%97%A5%E6%9C%AC.png");
  // Header injection is impossible: CR and LF are percent-encoded.
  assert.equal(contentDisposition("attachment", "a\r\nSet-Cookie: x"), "attachment; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x");
});

test("download headers sandbox every response and keep the uploaded type", () => {
  const html = downloadHeaders("text/html", "page.html");
  assert.equal(html["Content-Type"], "text/html; charset=UTF-8");
  assert.equal(html["Content-Disposition"], "attachment; filename=page.html");
  assert.match(html["Content-Security-Policy"] ?? "", /^sandbox; default-src 'none'; script-src 'none';/);
  assert.equal(html["X-Content-Type-Options"], "nosniff");
  assert.equal(html["Cross-Origin-Resource-Policy"], "cross-origin");
  const png = downloadHeaders("image/png", undefined);
  assert.equal(png["Content-Type"], "image/png");
  assert.equal(png["Content-Disposition"], "inline");
  assert.equal(servedContentType("text/plain; charset=UTF-16"), "text/plain; charset=UTF-16");
  assert.equal(servedContentType("application/x-custom"), "application/x-custom");
});

test("only well-formed Content-Type values are stored verbatim", () => {
  for (const good of ["image/png", "text/plain; charset=utf-8", "application/vnd.example+json"]) assert.ok(isAcceptableContentType(good), good);
  for (const bad of ["", "png", "image/png\r\nX: y", "ïmage/png", "image/ png", `${"a".repeat(260)}/png`]) {
    assert.ok(!isAcceptableContentType(bad), JSON.stringify(bad));
  }
});
