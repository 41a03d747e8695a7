/**
 * Issue 6's acceptance: media in R2 through the spec's endpoints. matrix-js-sdk uploads an image and
 * sends it as m.image; another user downloads it and thumbnails of the requested sizes through
 * authenticated media; unauthenticated access is refused; limits, asynchronous uploads and URL previews
 * (with their private-address refusals) behave as the spec and Synapse do.
 *
 * The only network traffic is to loopback: the homeserver, a page server and a DNS-over-HTTPS stand-in.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { MatrixError, MsgType, Preset, type MatrixClient } from "matrix-js-sdk";
import { isBlockedAddress, parseIpAddress } from "../../src/media/ip-ranges";
import { startTestHomeserver, type TestHomeserver } from "../support/homeserver";
import { TestClient, uniqueName } from "../support/http";
import { decodeImage, makeGif, makeJpeg, makePng } from "../support/images";
import { assertMatchesSpec } from "../support/openapi";
import { createTestClient } from "../support/sdk";

const MAX_UPLOAD_SIZE = 1024 * 1024;
const UNUSED_EXPIRATION_MS = 4000;
const SECURITY_HEADERS = {
  "content-security-policy": /^sandbox; default-src 'none'; script-src 'none';/,
  "x-content-type-options": /^nosniff$/,
  "cross-origin-resource-policy": /^cross-origin$/,
};

let server: TestHomeserver;
let defaultsServer: TestHomeserver;
let http: TestClient;
let pages: Server;
let pagesPort = 0;
let pageHits = 0;
let dns: Server;

interface Account {
  user_id: string;
  access_token: string;
  device_id: string;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const listener = createServer(handler);
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  return listener;
}

before(async () => {
  pages = await listen((request, response) => {
    pageHits += 1;
    const path = request.url ?? "/";
    if (path === "/page.html") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(`<!doctype html><html><head><title>Fallback</title>
        <meta property="og:title" content="A page &amp; its preview">
        <meta property="og:description" content="Served from loopback">
        <meta property="og:image" content="/image.png"></head><body></body></html>`);
    } else if (path === "/image.png") {
      response.writeHead(200, { "content-type": "image/png" });
      response.end(makePng(64, 32));
    } else if (path.startsWith("/redirect?to=")) {
      response.writeHead(302, { location: decodeURIComponent(path.slice("/redirect?to=".length)) });
      response.end();
    } else if (path.startsWith("/loop/")) {
      response.writeHead(302, { location: `/loop/${Number(path.slice("/loop/".length)) + 1}` });
      response.end();
    } else if (path === "/big.html") {
      response.writeHead(200, { "content-type": "text/html" });
      response.end(`<title>big</title>${"x".repeat(100 * 1024)}`);
    } else if (path === "/latin1.html") {
      response.writeHead(200, { "content-type": "text/html" });
      response.end(Buffer.from(`<meta charset="windows-1252"><title>Caf\u00e9 cr\u00e8me</title>`, "latin1"));
    } else if (path === "/document.pdf") {
      response.writeHead(200, { "content-type": "application/pdf" });
      response.end("%PDF-1.4");
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  pagesPort = (pages.address() as AddressInfo).port;
  // A DNS-over-HTTPS stand-in: one name resolves into a private range, everything else does not exist.
  dns = await listen((request, response) => {
    const query = new URL(request.url ?? "/", "http://dns");
    const name = query.searchParams.get("name");
    const type = query.searchParams.get("type");
    response.writeHead(200, { "content-type": "application/dns-json" });
    if (name === "intranet-service.example" && type === "A") {
      response.end(JSON.stringify({ Status: 0, Answer: [{ name, type: 1, TTL: 60, data: "10.20.30.40" }] }));
    } else {
      response.end(JSON.stringify({ Status: 3 }));
    }
  });
  const dnsPort = (dns.address() as AddressInfo).port;
  [server, defaultsServer] = await Promise.all([
    startTestHomeserver({
      MAX_UPLOAD_SIZE: String(MAX_UPLOAD_SIZE),
      ALLOW_GUEST_ACCESS: "true",
      MAX_IMAGE_PIXELS: "4M",
      MAX_PENDING_MEDIA_UPLOADS: "3",
      UNUSED_MEDIA_EXPIRATION_MS: String(UNUSED_EXPIRATION_MS),
      URL_PREVIEW_ENABLED: "true",
      // The page server is on 127.0.0.1: that one address is let through, the rest of loopback is not.
      URL_PREVIEW_IP_RANGE_WHITELIST: "127.0.0.1/32",
      URL_PREVIEW_DNS_RESOLVER: `http://127.0.0.1:${dnsPort}/dns-query`,
      MAX_SPIDER_SIZE: "64K",
      URL_PREVIEW_TIMEOUT_MS: "5000",
    }),
    startTestHomeserver(),
  ]);
  http = new TestClient(server.url);
});

after(async () => {
  await Promise.all([server?.stop(), defaultsServer?.stop()]);
  pages?.close();
  dns?.close();
});

function sdkClient(account: Account): MatrixClient {
  return createTestClient({ baseUrl: server.url, userId: account.user_id, accessToken: account.access_token, deviceId: account.device_id });
}

/** Uploads raw bytes (not JSON) and checks a 200 answer against the spec. */
async function upload(
  path: string,
  bytes: Uint8Array<ArrayBuffer>,
  options: { token?: string; contentType?: string; method?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.contentType) headers["content-type"] = options.contentType;
  const method = options.method ?? "POST";
  const response = await fetch(server.url + path, { method, headers, body: bytes });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status === 200) assertMatchesSpec({ method, path, status: 200, body });
  else assert.match(String(body.errcode), /^M_[A-Z_]+$/);
  return { status: response.status, body };
}

async function download(url: string, token?: string): Promise<Response> {
  return fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

function assertSecurityHeaders(response: Response): void {
  for (const [name, pattern] of Object.entries(SECURITY_HEADERS)) assert.match(response.headers.get(name) ?? "", pattern, name);
}

const mediaPath = (contentUri: string) => contentUri.slice("mxc://".length);

describe("upload and authenticated download", () => {
  let alice: Account;
  let bob: Account;
  before(async () => {
    alice = await http.register(uniqueName("alice"), "alice-password");
    bob = await http.register(uniqueName("bob"), "bob-password");
  });

  test("matrix-js-sdk uploads an image, sends m.image, and another user downloads it and its thumbnails", async () => {
    const aliceSdk = sdkClient(alice);
    const bobSdk = sdkClient(bob);
    const png = makePng(400, 300);
    const uploaded = await aliceSdk.uploadContent(new Blob([png], { type: "image/png" }), { name: "cat.png", type: "image/png" });
    assert.match(uploaded.content_uri, /^mxc:\/\/localhost\/[A-Za-z]{24}$/);

    const { room_id: roomId } = await aliceSdk.createRoom({ preset: Preset.PublicChat });
    await bobSdk.joinRoom(roomId);
    const { event_id: eventId } = await aliceSdk.sendMessage(roomId, {
      msgtype: MsgType.Image,
      body: "cat.png",
      url: uploaded.content_uri,
      info: { mimetype: "image/png", size: png.byteLength, w: 400, h: 300 },
    });
    const event = await bobSdk.fetchRoomEvent(roomId, eventId);
    const mxc = (event.content as { url: string }).url;
    assert.equal(mxc, uploaded.content_uri);

    const downloadUrl = bobSdk.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true);
    assert.ok(downloadUrl && downloadUrl.startsWith(`${server.url}/_matrix/client/v1/media/download/`));
    const original = await download(downloadUrl, bob.access_token);
    assert.equal(original.status, 200);
    assert.deepEqual(new Uint8Array(await original.arrayBuffer()), png);
    assert.equal(original.headers.get("content-type"), "image/png");
    assert.equal(original.headers.get("content-disposition"), "inline; filename=cat.png");
    assertSecurityHeaders(original);

    for (const [width, height, method, expected] of [
      [96, 96, "crop", [96, 96]],
      [32, 32, "crop", [32, 32]],
      [320, 240, "scale", [320, 240]],
      [600, 400, "scale", [400, 300]],
    ] as const) {
      const thumbnailUrl = bobSdk.mxcUrlToHttp(mxc, width, height, method, false, true, true);
      assert.ok(thumbnailUrl && thumbnailUrl.includes("/_matrix/client/v1/media/thumbnail/"));
      const thumbnail = await download(thumbnailUrl, bob.access_token);
      assert.equal(thumbnail.status, 200, `${width}x${height} ${method}`);
      assert.equal(thumbnail.headers.get("content-type"), "image/png");
      assert.equal(thumbnail.headers.get("content-disposition"), "inline; filename=thumbnail.png");
      assertSecurityHeaders(thumbnail);
      const decoded = decodeImage(new Uint8Array(await thumbnail.arrayBuffer()));
      assert.deepEqual([decoded.width, decoded.height], expected, `${width}x${height} ${method}`);
    }
  });

  test("new media is refused without authentication, and never served by the legacy endpoints", async () => {
    const { body } = await upload("/_matrix/media/v3/upload?filename=secret.png", makePng(8, 8), { token: alice.access_token, contentType: "image/png" });
    const path = mediaPath(String(body.content_uri));
    for (const endpoint of [`/_matrix/client/v1/media/download/${path}`, `/_matrix/client/v1/media/thumbnail/${path}?width=32&height=32`]) {
      const refused = await http.get(endpoint);
      assert.equal(refused.status, 401, endpoint);
      assert.equal(refused.body.errcode, "M_MISSING_TOKEN");
    }
    for (const version of ["v3", "r0", "v1"]) {
      for (const endpoint of [`/_matrix/media/${version}/download/${path}`, `/_matrix/media/${version}/download/${path}/secret.png`, `/_matrix/media/${version}/thumbnail/${path}?width=32&height=32`]) {
        for (const token of [undefined, alice.access_token]) {
          // /_matrix/media/v1 is not in the spec (Synapse serves it for old clients): nothing to check it against.
          const frozen = await http.get(endpoint, { ...(token ? { token } : {}), checkSpec: version !== "v1" });
          assert.equal(frozen.status, 404, endpoint);
          assert.equal(frozen.body.errcode, "M_NOT_FOUND");
        }
      }
    }
    const unauthenticatedUpload = await upload("/_matrix/media/v3/upload", makePng(8, 8), { contentType: "image/png" });
    assert.equal(unauthenticatedUpload.status, 401);
  });

  test("guests may download and thumbnail media but not upload it", async () => {
    const guestRegistration = await http.post<Account>("/_matrix/client/v3/register?kind=guest", {});
    assert.equal(guestRegistration.status, 200);
    const guest = guestRegistration.body;
    const refused = await upload("/_matrix/media/v3/upload", makePng(8, 8), { token: guest.access_token, contentType: "image/png" });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.errcode, "M_GUEST_ACCESS_FORBIDDEN");
    const created = await http.post("/_matrix/media/v1/create", {}, { token: guest.access_token });
    assert.equal(created.status, 403);
    const { body } = await upload("/_matrix/media/v3/upload", makePng(40, 40), { token: alice.access_token, contentType: "image/png" });
    const path = mediaPath(String(body.content_uri));
    assert.equal((await download(`${server.url}/_matrix/client/v1/media/download/${path}`, guest.access_token)).status, 200);
    assert.equal((await download(`${server.url}/_matrix/client/v1/media/thumbnail/${path}?width=32&height=32`, guest.access_token)).status, 200);
  });

  test("an upload over MAX_UPLOAD_SIZE gets 413 M_TOO_LARGE, and the config says the limit", async () => {
    const tooLarge = await upload("/_matrix/media/v3/upload", new Uint8Array(MAX_UPLOAD_SIZE + 1), { token: alice.access_token, contentType: "application/octet-stream" });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.errcode, "M_TOO_LARGE");
    const atLimit = await upload("/_matrix/media/v3/upload", new Uint8Array(MAX_UPLOAD_SIZE), { token: alice.access_token, contentType: "application/octet-stream" });
    assert.equal(atLimit.status, 200);
    for (const path of ["/_matrix/client/v1/media/config", "/_matrix/media/v3/config"]) {
      const config = await http.get(path, { token: bob.access_token });
      assert.equal(config.status, 200);
      assert.deepEqual(config.body, { "m.upload.size": MAX_UPLOAD_SIZE });
      assert.equal((await http.get(path)).status, 401);
    }
  });

  test("unsafe types are downloaded as attachments with their own Content-Type and file name", async () => {
    const html = new TextEncoder().encode("<script>alert(document.cookie)</script>");
    const { body } = await upload("/_matrix/media/v3/upload?filename=page.html", html, { token: alice.access_token, contentType: "text/html" });
    const path = mediaPath(String(body.content_uri));
    const served = await download(`${server.url}/_matrix/client/v1/media/download/${path}`, bob.access_token);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("content-type"), "text/html; charset=UTF-8");
    assert.equal(served.headers.get("content-disposition"), "attachment; filename=page.html");
    assertSecurityHeaders(served);
    assert.equal(await served.text(), "<script>alert(document.cookie)</script>");
    const renamed = await download(`${server.url}/_matrix/client/v1/media/download/${path}/${encodeURIComponent("über notes.html")}`, bob.access_token);
    assert.equal(renamed.headers.get("content-disposition"), "attachment; filename*=utf-8''%C3%BCber%20notes.html");
    const svg = await upload("/_matrix/media/v3/upload", new TextEncoder().encode("<svg/>"), { token: alice.access_token, contentType: "image/svg+xml" });
    const svgServed = await download(`${server.url}/_matrix/client/v1/media/download/${mediaPath(String(svg.body.content_uri))}`, bob.access_token);
    assert.equal(svgServed.headers.get("content-disposition"), "attachment");
    assert.equal(svgServed.headers.get("content-type"), "image/svg+xml; charset=UTF-8");
    const longName = await upload(`/_matrix/media/v3/upload?filename=${"é".repeat(513)}`, html, { token: alice.access_token, contentType: "text/plain" });
    assert.equal(longName.status, 400);
    assert.equal(longName.body.errcode, "M_INVALID_PARAM");
    const etag = served.headers.get("etag");
    assert.ok(etag);
    const revalidated = await fetch(`${server.url}/_matrix/client/v1/media/download/${path}`, {
      headers: { authorization: `Bearer ${bob.access_token}`, "if-none-match": etag },
    });
    assert.equal(revalidated.status, 304);
    const unknown = await http.get(`/_matrix/client/v1/media/download/localhost/NoSuchMediaIdAtAllHere`, { token: bob.access_token });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errcode, "M_NOT_FOUND");
    const remote = await http.get(`/_matrix/client/v1/media/download/elsewhere.example/abc`, { token: bob.access_token });
    assert.equal(remote.status, 404);
  });
});

describe("thumbnails", () => {
  let alice: Account;
  before(async () => {
    alice = await http.register(uniqueName("thumbs"), "thumbs-password");
  });
  const thumbnail = (path: string, query: string) => download(`${server.url}/_matrix/client/v1/media/thumbnail/${path}?${query}`, alice.access_token);

  test("JPEGs (upright per EXIF) give JPEG thumbnails; GIFs give PNG thumbnails of their first frame", async () => {
    const jpeg = await upload("/_matrix/media/v3/upload", makeJpeg(300, 200, 6), { token: alice.access_token, contentType: "image/jpeg" });
    const fromJpeg = await thumbnail(mediaPath(String(jpeg.body.content_uri)), "width=320&height=240&method=scale");
    assert.equal(fromJpeg.status, 200);
    assert.equal(fromJpeg.headers.get("content-type"), "image/jpeg");
    const decodedJpeg = decodeImage(new Uint8Array(await fromJpeg.arrayBuffer()));
    assert.deepEqual([decodedJpeg.width, decodedJpeg.height], [160, 240], "displayed 200x300, scaled into 320x240");
    const gif = await upload("/_matrix/media/v3/upload", makeGif(120, 90), { token: alice.access_token, contentType: "image/gif" });
    const fromGif = await thumbnail(mediaPath(String(gif.body.content_uri)), "width=32&height=32&method=crop&animated=true");
    assert.equal(fromGif.status, 200);
    assert.equal(fromGif.headers.get("content-type"), "image/png");
    const decodedGif = decodeImage(new Uint8Array(await fromGif.arrayBuffer()));
    assert.deepEqual([decodedGif.width, decodedGif.height], [32, 32]);
  });

  test("cached thumbnails come back identical", async () => {
    const png = await upload("/_matrix/media/v3/upload", makePng(500, 500), { token: alice.access_token, contentType: "image/png" });
    const path = mediaPath(String(png.body.content_uri));
    const first = new Uint8Array(await (await thumbnail(path, "width=90&height=90&method=crop")).arrayBuffer());
    const second = new Uint8Array(await (await thumbnail(path, "width=96&height=96&method=crop")).arrayBuffer());
    assert.deepEqual(second, first, "both requests pick the 96x96 crop");
    assert.deepEqual([decodeImage(first).width, decodeImage(first).height], [96, 96]);
  });

  test("decompression bombs, non-images and bad parameters are refused with the spec's errors", async () => {
    const bomb = makePng(1, 1);
    const view = new DataView(bomb.buffer, bomb.byteOffset);
    view.setUint32(16, 50_000);
    view.setUint32(20, 50_000);
    const bombUpload = await upload("/_matrix/media/v3/upload", bomb, { token: alice.access_token, contentType: "image/png" });
    const bombPath = mediaPath(String(bombUpload.body.content_uri));
    const tooLarge = await http.get(`/_matrix/client/v1/media/thumbnail/${bombPath}?width=32&height=32`, { token: alice.access_token });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.errcode, "M_TOO_LARGE");

    const text = await upload("/_matrix/media/v3/upload", new TextEncoder().encode("hello"), { token: alice.access_token, contentType: "text/plain" });
    const notImage = await http.get(`/_matrix/client/v1/media/thumbnail/${mediaPath(String(text.body.content_uri))}?width=32&height=32`, { token: alice.access_token });
    assert.equal(notImage.status, 400);
    const disguised = await upload("/_matrix/media/v3/upload", new TextEncoder().encode("<svg/>"), { token: alice.access_token, contentType: "image/png" });
    const notReallyPng = await http.get(`/_matrix/client/v1/media/thumbnail/${mediaPath(String(disguised.body.content_uri))}?width=32&height=32`, { token: alice.access_token });
    assert.equal(notReallyPng.status, 400);

    const truncated = await upload("/_matrix/media/v3/upload", makePng(300, 300).slice(0, 200), { token: alice.access_token, contentType: "image/png" });
    for (let attempt = 0; attempt < 2; attempt++) {
      const corrupt = await http.get(`/_matrix/client/v1/media/thumbnail/${mediaPath(String(truncated.body.content_uri))}?width=32&height=32`, { token: alice.access_token });
      assert.equal(corrupt.status, 400);
      assert.equal(corrupt.body.errcode, "M_UNKNOWN");
    }

    const png = await upload("/_matrix/media/v3/upload", makePng(40, 40), { token: alice.access_token, contentType: "image/png" });
    const path = mediaPath(String(png.body.content_uri));
    const afterFailure = await thumbnail(path, "width=32&height=32&method=crop");
    assert.equal(afterFailure.status, 200, "the decoder still works after a corrupt image");
    const cases: [string, number, string][] = [
      ["height=32", 400, "M_MISSING_PARAM"],
      ["width=-3&height=32", 400, "M_INVALID_PARAM"],
      ["width=32&height=32&method=stretch", 400, "M_INVALID_PARAM"],
      ["width=32&height=32&animated=maybe", 400, "M_INVALID_PARAM"],
    ];
    for (const [query, status, errcode] of cases) {
      const response = await http.get(`/_matrix/client/v1/media/thumbnail/${path}?${query}`, { token: alice.access_token });
      assert.equal(response.status, status, query);
      assert.equal(response.body.errcode, errcode, query);
    }
  });
});

describe("asynchronous uploads", () => {
  let alice: Account;
  let bob: Account;
  before(async () => {
    alice = await http.register(uniqueName("async"), "async-password");
    bob = await http.register(uniqueName("other"), "other-password");
  });

  test("create, wait for content, upload once, then serve it", async () => {
    const created = await http.post<{ content_uri: string; unused_expires_at: number }>("/_matrix/media/v1/create", undefined, { token: alice.access_token });
    assert.equal(created.status, 200);
    assert.ok(created.body.unused_expires_at > Date.now() && created.body.unused_expires_at <= Date.now() + UNUSED_EXPIRATION_MS);
    const path = mediaPath(created.body.content_uri);

    const notYet = await http.get(`/_matrix/client/v1/media/download/${path}?timeout_ms=300`, { token: bob.access_token });
    assert.equal(notYet.status, 504);
    assert.equal(notYet.body.errcode, "M_NOT_YET_UPLOADED");

    const waiting = download(`${server.url}/_matrix/client/v1/media/download/${path}?timeout_ms=5000`, bob.access_token);
    const bytes = makePng(16, 16);
    const wrongUser = await upload(`/_matrix/media/v3/upload/${path}`, bytes, { token: bob.access_token, contentType: "image/png", method: "PUT" });
    assert.equal(wrongUser.status, 403);
    assert.equal(wrongUser.body.errcode, "M_FORBIDDEN");
    const stored = await upload(`/_matrix/media/v3/upload/${path}?filename=late.png`, bytes, { token: alice.access_token, contentType: "image/png", method: "PUT" });
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body, {});
    const arrived = await waiting;
    assert.equal(arrived.status, 200);
    assert.equal(arrived.headers.get("content-disposition"), "inline; filename=late.png");
    assert.deepEqual(new Uint8Array(await arrived.arrayBuffer()), bytes);

    const again = await upload(`/_matrix/media/v3/upload/${path}`, bytes, { token: alice.access_token, contentType: "image/png", method: "PUT" });
    assert.equal(again.status, 409);
    assert.equal(again.body.errcode, "M_CANNOT_OVERWRITE_MEDIA");
    const unknown = await upload(`/_matrix/media/v3/upload/localhost/NeverCreatedMediaIdHere`, bytes, { token: alice.access_token, method: "PUT" });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.errcode, "M_NOT_FOUND");
    const remote = await upload(`/_matrix/media/v3/upload/elsewhere.example/abc`, bytes, { token: alice.access_token, method: "PUT" });
    assert.equal(remote.status, 404);
  });

  test("too many pending uploads get 429 M_LIMIT_EXCEEDED, and unused IDs expire", async () => {
    const carol = await http.register(uniqueName("carol"), "carol-password");
    const pending: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await http.post<{ content_uri: string }>("/_matrix/media/v1/create", {}, { token: carol.access_token });
      assert.equal(created.status, 200);
      pending.push(mediaPath(created.body.content_uri));
    }
    const refused = await http.post("/_matrix/media/v1/create", {}, { token: carol.access_token });
    assert.equal(refused.status, 429);
    assert.equal(refused.body.errcode, "M_LIMIT_EXCEEDED");
    assert.ok(Number(refused.body.retry_after_ms) > 0 && Number(refused.body.retry_after_ms) <= UNUSED_EXPIRATION_MS);

    await new Promise((resolve) => setTimeout(resolve, UNUSED_EXPIRATION_MS + 500));
    const lapsed = await upload(`/_matrix/media/v3/upload/${pending[0]}`, makePng(4, 4), { token: carol.access_token, contentType: "image/png", method: "PUT" });
    assert.equal(lapsed.status, 404);
    assert.equal(lapsed.body.errcode, "M_NOT_FOUND");
    const gone = await http.get(`/_matrix/client/v1/media/download/${pending[1]}`, { token: carol.access_token });
    assert.equal(gone.status, 404);
    const allowedAgain = await http.post("/_matrix/media/v1/create", {}, { token: carol.access_token });
    assert.equal(allowedAgain.status, 200);
  });
});

describe("URL previews", () => {
  let alice: Account;
  before(async () => {
    alice = await http.register(uniqueName("preview"), "preview-password");
  });
  const preview = (url: string, token = alice.access_token, client = http) =>
    client.get(`/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}`, { token });
  const page = (path: string) => `http://127.0.0.1:${pagesPort}${path}`;

  test("previews are off by default (403 M_FORBIDDEN)", async () => {
    const defaults = new TestClient(defaultsServer.url);
    const account = await defaults.register(uniqueName("plain"), "plain-password");
    for (const path of ["/_matrix/client/v1/media/preview_url", "/_matrix/media/v3/preview_url"]) {
      const disabled = await defaults.get(`${path}?url=${encodeURIComponent("https://matrix.org")}`, { token: account.access_token });
      assert.equal(disabled.status, 403);
      assert.equal(disabled.body.errcode, "M_FORBIDDEN");
    }
  });

  test("a page's OpenGraph data is previewed, its image stored as media, and the result cached", async () => {
    const hitsBefore = pageHits;
    const first = await preview(page("/page.html"));
    assert.equal(first.status, 200);
    assert.equal(first.body["og:title"], "A page & its preview");
    assert.equal(first.body["og:description"], "Served from loopback");
    assert.match(String(first.body["og:image"]), /^mxc:\/\/localhost\/[A-Za-z]{24}$/);
    assert.equal(first.body["og:image:type"], "image/png");
    assert.equal(first.body["og:image:width"], 64);
    assert.equal(first.body["og:image:height"], 32);
    assert.equal(typeof first.body["matrix:image:size"], "number");
    assert.equal(pageHits - hitsBefore, 2, "the page and its image");
    const image = await download(`${server.url}/_matrix/client/v1/media/download/${mediaPath(String(first.body["og:image"]))}`, alice.access_token);
    assert.equal(image.status, 200);
    assert.deepEqual([decodeImage(new Uint8Array(await image.arrayBuffer())).width], [64]);

    const cached = await preview(page("/page.html"));
    assert.deepEqual(cached.body, first.body);
    assert.equal(pageHits - hitsBefore, 2, "served from the cache");
    const legacy = await http.get(`/_matrix/media/v3/preview_url?url=${encodeURIComponent(page("/page.html"))}`, { token: alice.access_token });
    assert.deepEqual(legacy.body, first.body);

    const latin1 = await preview(page("/latin1.html"));
    assert.equal(latin1.body["og:title"], "Café crème", "the page's declared charset is honoured");
    const pdf = await preview(page("/document.pdf"));
    assert.equal(pdf.status, 200);
    assert.deepEqual(pdf.body, {});
    assert.equal((await http.get(`/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(page("/page.html"))}`)).status, 401);
  });

  test("loopback, private-range and local host names are refused, directly and through redirects", async () => {
    const privateTargets = ["http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data/"];
    // A guard for this machine's network: these must be refused before any request leaves the Worker.
    for (const target of privateTargets) {
      const address = parseIpAddress(new URL(target).hostname);
      assert.ok(address && isBlockedAddress(address, { blacklist: [], whitelist: [] }), target);
    }
    const refusedUrls = [
      `http://127.0.0.2:${pagesPort}/page.html`,
      `http://2130706434:${pagesPort}/page.html`, // 127.0.0.2
      `http://localhost:${pagesPort}/page.html`,
      `http://[::1]:${pagesPort}/page.html`,
      `http://[::ffff:127.0.0.1]:${pagesPort}/page.html`,
      ...privateTargets,
      page(`/redirect?to=${encodeURIComponent(`http://127.0.0.2:${pagesPort}/page.html`)}`),
      page(`/redirect?to=${encodeURIComponent("http://10.0.0.1/")}`),
      page(`/redirect?to=${encodeURIComponent(`http://localhost:${pagesPort}/page.html`)}`),
      "http://intranet-service.example/",
    ];
    for (const url of refusedUrls) {
      const refused = await preview(url);
      assert.equal(refused.status, 403, url);
      assert.equal(refused.body.errcode, "M_UNKNOWN", url);
    }
  });

  test("size, redirect and DNS failures are reported, not previewed", async () => {
    const tooBig = await preview(page("/big.html"));
    assert.equal(tooBig.status, 502);
    assert.equal(tooBig.body.errcode, "M_TOO_LARGE");
    const endless = await preview(page("/loop/0"));
    assert.equal(endless.status, 502);
    const unresolvable = await preview("http://no-such-host.example/");
    assert.equal(unresolvable.status, 502);
    const missing = await http.get("/_matrix/client/v1/media/preview_url", { token: alice.access_token });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.errcode, "M_MISSING_PARAM");
    const notHttp = await preview("gopher://example.com/");
    assert.equal(notHttp.status, 403);
  });
});

test("matrix-js-sdk surfaces the upload limit as M_TOO_LARGE", async () => {
  const account = await http.register(uniqueName("sdk"), "sdk-password");
  const sdk = sdkClient(account);
  await assert.rejects(
    sdk.uploadContent(new Blob([new Uint8Array(MAX_UPLOAD_SIZE + 10)], { type: "application/octet-stream" })),
    (error: unknown) => error instanceof MatrixError && error.errcode === "M_TOO_LARGE" && error.httpStatus === 413,
  );
});
