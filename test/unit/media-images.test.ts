import assert from "node:assert/strict";
import { test } from "node:test";
import { PhotonImage } from "@cf-wasm/photon/node";
import type { ThumbnailSize } from "../../src/config";
import { orientedSize, readImageInfo } from "../../src/media/image-info";
import { applyOrientation } from "../../src/media/orientation";
import { renderThumbnail } from "../../src/media/thumbnailer";
import { cropGeometry, fitWithin, plannedThumbnail, selectThumbnail } from "../../src/media/thumbnail-sizing";
import { decodeImage, gradientPixels, makeGif, makeJpeg, makePng } from "../support/images";

const SYNAPSE_SIZES: ThumbnailSize[] = [
  { width: 32, height: 32, method: "crop" },
  { width: 96, height: 96, method: "crop" },
  { width: 320, height: 240, method: "scale" },
  { width: 640, height: 480, method: "scale" },
  { width: 800, height: 600, method: "scale" },
];

function makeWebp(width: number, height: number): Uint8Array {
  const image = new PhotonImage(gradientPixels(width, height), width, height);
  try {
    return image.get_bytes_webp();
  } finally {
    image.free();
  }
}

test("image formats and dimensions come from the bytes", () => {
  assert.deepEqual(readImageInfo(makePng(300, 200)), { format: "png", width: 300, height: 200, orientation: 1 });
  assert.deepEqual(readImageInfo(makeJpeg(120, 80)), { format: "jpeg", width: 120, height: 80, orientation: 1 });
  assert.deepEqual(readImageInfo(makeJpeg(120, 80, 6)), { format: "jpeg", width: 120, height: 80, orientation: 6 });
  assert.deepEqual(readImageInfo(makeGif(64, 48)), { format: "gif", width: 64, height: 48, orientation: 1 });
  assert.deepEqual(readImageInfo(makeWebp(33, 17)), { format: "webp", width: 33, height: 17, orientation: 1 });
  assert.deepEqual(orientedSize({ format: "jpeg", width: 120, height: 80, orientation: 6 }), { width: 80, height: 120 });
  for (const notAnImage of [new Uint8Array(0), new TextEncoder().encode("<svg xmlns='http://www.w3.org/2000/svg'/>"), makePng(10, 10).subarray(0, 20)]) {
    assert.equal(readImageInfo(notAnImage), undefined);
  }
});

test("lossy and extended WebP headers give their canvas size", () => {
  const riff = (chunk: string, payload: number[]) =>
    new Uint8Array([...Buffer.from("RIFF\0\0\0\0WEBP", "latin1"), ...Buffer.from(chunk, "latin1"), 0, 0, 0, 0, ...payload]);
  // VP8: frame tag (3 bytes), start code 9d 01 2a, 14-bit width and height.
  const lossy = riff("VP8 ", [0, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
  assert.deepEqual(readImageInfo(lossy), { format: "webp", width: 320, height: 240, orientation: 1 });
  // VP8X: flags, 3 reserved bytes, then canvas width-1 and height-1 as 24-bit little-endian.
  const extended = riff("VP8X", [0x10, 0, 0, 0, 0x3f, 0x1f, 0, 0xff, 0x0f, 0]);
  assert.deepEqual(readImageInfo(extended), { format: "webp", width: 8000, height: 4096, orientation: 1 });
});

test("a decompression bomb's size is known from its header without decoding it", () => {
  const png = makePng(1, 1);
  const view = new DataView(png.buffer, png.byteOffset);
  view.setUint32(16, 100_000);
  view.setUint32(20, 100_000);
  const info = readImageInfo(png);
  assert.equal((info?.width ?? 0) * (info?.height ?? 0), 10_000_000_000);
});

test("thumbnail choice follows Synapse: at least the requested size, closest aspect for crops", () => {
  const pick = (width: number, height: number, method: "crop" | "scale") => selectThumbnail(1000, 800, width, height, method, SYNAPSE_SIZES);
  assert.deepEqual(pick(32, 32, "crop"), { width: 32, height: 32, method: "crop" });
  assert.deepEqual(pick(50, 50, "crop"), { width: 96, height: 96, method: "crop" });
  assert.deepEqual(pick(500, 500, "crop"), { width: 96, height: 96, method: "crop" });
  assert.deepEqual(pick(300, 240, "scale"), { width: 300, height: 240, method: "scale" });
  assert.deepEqual(pick(320, 320, "scale"), { width: 600, height: 480, method: "scale" });
  assert.deepEqual(pick(2000, 2000, "scale"), { width: 750, height: 600, method: "scale" });
  assert.equal(selectThumbnail(1000, 800, 10, 10, "crop", SYNAPSE_SIZES.filter((size) => size.method === "scale")), undefined);
});

test("thumbnails are never upscaled", () => {
  assert.deepEqual(plannedThumbnail(20, 10, { width: 800, height: 600, method: "scale" }), { width: 20, height: 10, method: "scale" });
  assert.deepEqual(plannedThumbnail(20, 10, { width: 32, height: 32, method: "crop" }), { width: 10, height: 10, method: "crop" });
  assert.deepEqual(plannedThumbnail(200, 100, { width: 96, height: 96, method: "crop" }), { width: 96, height: 96, method: "crop" });
  assert.deepEqual(fitWithin(1000, 800, 320, 240), { width: 300, height: 240 });
  assert.deepEqual(fitWithin(1000, 10, 320, 240), { width: 320, height: 3 });
  assert.deepEqual(cropGeometry(1000, 800, 96, 96), { scaledWidth: 120, scaledHeight: 96, left: 12, top: 0 });
  assert.deepEqual(cropGeometry(800, 1000, 96, 96), { scaledWidth: 96, scaledHeight: 120, left: 0, top: 12 });
});

test("EXIF orientations turn stored pixels upright", () => {
  // A 3x2 image whose red channel numbers its pixels: 0 1 2 / 10 11 12.
  const pixels = new Uint8Array(3 * 2 * 4);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) pixels[(y * 3 + x) * 4] = 10 * y + x;
  const rows = (orientation: number) => {
    const image = applyOrientation({ pixels, width: 3, height: 2 }, orientation);
    return Array.from({ length: image.height }, (_, y) => Array.from({ length: image.width }, (_, x) => image.pixels[(y * image.width + x) * 4]));
  };
  assert.deepEqual(rows(1), [[0, 1, 2], [10, 11, 12]]);
  assert.deepEqual(rows(2), [[2, 1, 0], [12, 11, 10]]);
  assert.deepEqual(rows(3), [[12, 11, 10], [2, 1, 0]]);
  assert.deepEqual(rows(4), [[10, 11, 12], [0, 1, 2]]);
  assert.deepEqual(rows(5), [[0, 10], [1, 11], [2, 12]]);
  assert.deepEqual(rows(6), [[10, 0], [11, 1], [12, 2]]);
  assert.deepEqual(rows(7), [[12, 2], [11, 1], [10, 0]]);
  assert.deepEqual(rows(8), [[2, 12], [1, 11], [0, 10]]);
});

test("thumbnails render at the planned size from every supported format", async () => {
  const sources = { png: makePng(400, 300), jpeg: makeJpeg(400, 300), gif: makeGif(400, 300), webp: makeWebp(400, 300) };
  for (const [format, bytes] of Object.entries(sources)) {
    const info = readImageInfo(bytes);
    assert.ok(info, format);
    for (const plan of [
      { width: 96, height: 96, method: "crop" as const },
      { width: 320, height: 240, method: "scale" as const },
    ]) {
      const thumbnail = await renderThumbnail(bytes, info, plan);
      const decoded = decodeImage(thumbnail.bytes);
      assert.equal(thumbnail.contentType, format === "jpeg" ? "image/jpeg" : "image/png", format);
      assert.deepEqual([decoded.width, decoded.height], [plan.width, plan.height], `${format} ${plan.method}`);
    }
  }
});

test("a sideways JPEG's thumbnail comes out upright", async () => {
  // Stored 200x100 with orientation 6 (displayed rotated 90° clockwise: 100 wide, 200 tall).
  const bytes = makeJpeg(200, 100, 6);
  const info = readImageInfo(bytes);
  assert.ok(info);
  const thumbnail = await renderThumbnail(bytes, info, { width: 50, height: 100, method: "scale" });
  const decoded = decodeImage(thumbnail.bytes);
  assert.deepEqual([decoded.width, decoded.height], [50, 100]);
  // The stored top-left (red) quadrant is displayed top-right after a clockwise turn.
  const [red, green] = decoded.pixel(decoded.width - 5, 5);
  assert.ok(red > 200 && green < 60, `top-right is red, got ${red},${green}`);
  const [leftRed] = decoded.pixel(5, 5);
  assert.ok(leftRed < 60, `top-left is not red, got ${leftRed}`);
});
