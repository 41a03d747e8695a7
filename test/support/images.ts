/**
 * Test images made in the test itself with pure-JS encoders (no binary fixtures), and independent
 * decoders to check what the server produced.
 */
import { decode as decodePng, encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import { GifWriter } from "omggif";

/** RGBA pixels of a gradient whose top-left quadrant is red, so orientation is visible. */
export function gradientPixels(width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 4;
      const topLeft = x < width / 2 && y < height / 2;
      pixels[at] = topLeft ? 255 : 0;
      pixels[at + 1] = topLeft ? 0 : Math.floor((255 * x) / width);
      pixels[at + 2] = topLeft ? 0 : Math.floor((255 * y) / height);
      pixels[at + 3] = 255;
    }
  }
  return pixels;
}

export function makePng(width: number, height: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(encodePng({ width, height, data: gradientPixels(width, height), channels: 4, depth: 8 }));
}

/** A baseline JPEG, with an EXIF Orientation tag when `orientation` is given. */
export function makeJpeg(width: number, height: number, orientation?: number): Uint8Array<ArrayBuffer> {
  const encoded = new Uint8Array(jpeg.encode({ width, height, data: Buffer.from(gradientPixels(width, height)) }, 90).data);
  if (orientation === undefined) return encoded;
  // APP1 "Exif": big-endian TIFF header, one IFD with one SHORT entry (0x0112 Orientation).
  const tiff = [0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0];
  const payload = [...Buffer.from("Exif\0\0", "latin1"), ...tiff];
  const segment = [0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff, ...payload];
  return new Uint8Array([...encoded.subarray(0, 2), ...segment, ...encoded.subarray(2)]);
}

/** An animated GIF of two frames (only the first is thumbnailed). */
export function makeGif(width: number, height: number): Uint8Array<ArrayBuffer> {
  const buffer = new Uint8Array(width * height * 3 + 4096);
  const writer = new GifWriter(buffer, width, height, { palette: [0x000000, 0xff0000, 0x00ff00, 0x0000ff], loop: 0 });
  const indices = Array.from({ length: width * height }, (_, i) => i % 4);
  writer.addFrame(0, 0, width, height, indices, { delay: 10 });
  writer.addFrame(0, 0, width, height, indices.map((value) => (value + 1) % 4), { delay: 10 });
  return buffer.slice(0, writer.end());
}

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA at (x, y). */
  pixel(x: number, y: number): [number, number, number, number];
}

/** Decodes a PNG or JPEG with decoders independent of the server's. */
export function decodeImage(bytes: Uint8Array): DecodedImage {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) {
    const png = decodePng(bytes);
    const channels = png.channels;
    const data = png.data;
    return {
      width: png.width,
      height: png.height,
      pixel: (x, y) => {
        const at = (y * png.width + x) * channels;
        return [data[at] ?? 0, data[at + 1] ?? 0, data[at + 2] ?? 0, channels === 4 ? (data[at + 3] ?? 0) : 255];
      },
    };
  }
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
  return {
    width: decoded.width,
    height: decoded.height,
    pixel: (x, y) => {
      const at = (y * decoded.width + x) * 4;
      const data = decoded.data;
      return [data[at] ?? 0, data[at + 1] ?? 0, data[at + 2] ?? 0, data[at + 3] ?? 0];
    },
  };
}
