/**
 * Recognises the image formats we thumbnail from their bytes (never from the uploader's Content-Type) and
 * reads their pixel dimensions from the headers alone, so a decompression bomb is refused before any
 * decoder allocates memory for it.
 */

export type ImageFormat = "jpeg" | "png" | "gif" | "webp";

export interface ImageInfo {
  format: ImageFormat;
  /** Stored dimensions; for JPEG before applying the EXIF orientation. */
  width: number;
  height: number;
  /** EXIF orientation 1–8 (JPEG only; 1 means stored upright). */
  orientation: number;
}

const u16be = (bytes: Uint8Array, at: number) => ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0);
const u16le = (bytes: Uint8Array, at: number) => (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
const u24le = (bytes: Uint8Array, at: number) => u16le(bytes, at) | ((bytes[at + 2] ?? 0) << 16);
const u32be = (bytes: Uint8Array, at: number) => u16be(bytes, at) * 0x10000 + u16be(bytes, at + 2);
const ascii = (bytes: Uint8Array, at: number, length: number) => String.fromCharCode(...bytes.subarray(at, at + length));

function pngInfo(bytes: Uint8Array): ImageInfo | undefined {
  if (bytes.length < 24 || ascii(bytes, 12, 4) !== "IHDR") return undefined;
  return { format: "png", width: u32be(bytes, 16), height: u32be(bytes, 20), orientation: 1 };
}

/** The logical screen, or the first frame when that is larger (decoders allocate for the frame). */
function gifInfo(bytes: Uint8Array): ImageInfo | undefined {
  if (bytes.length < 13) return undefined;
  let width = u16le(bytes, 6);
  let height = u16le(bytes, 8);
  const flags = bytes[10] ?? 0;
  let at = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0);
  while (at < bytes.length) {
    const introducer = bytes[at];
    if (introducer === 0x2c) {
      width = Math.max(width, u16le(bytes, at + 1) + u16le(bytes, at + 5));
      height = Math.max(height, u16le(bytes, at + 3) + u16le(bytes, at + 7));
      break;
    }
    if (introducer !== 0x21) break;
    // An extension: label, then data sub-blocks up to a zero-length one.
    at += 2;
    while (at < bytes.length && (bytes[at] ?? 0) !== 0) at += (bytes[at] ?? 0) + 1;
    at += 1;
  }
  return { format: "gif", width, height, orientation: 1 };
}

/** Reads the Orientation tag (0x0112) from an APP1 Exif segment's TIFF structure. */
function exifOrientation(bytes: Uint8Array, start: number, end: number): number {
  if (ascii(bytes, start, 6) !== "Exif\0\0") return 1;
  const tiff = start + 6;
  const order = ascii(bytes, tiff, 2);
  if (order !== "II" && order !== "MM") return 1;
  const read16 = (at: number) => (order === "II" ? u16le(bytes, at) : u16be(bytes, at));
  const read32 = (at: number) =>
    order === "II" ? read16(at) + read16(at + 2) * 0x10000 : read16(at) * 0x10000 + read16(at + 2);
  const directory = tiff + read32(tiff + 4);
  if (directory + 2 > end) return 1;
  const entries = read16(directory);
  for (let i = 0; i < entries; i++) {
    const entry = directory + 2 + i * 12;
    if (entry + 12 > end) break;
    if (read16(entry) === 0x0112) {
      const value = read16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

function jpegInfo(bytes: Uint8Array): ImageInfo | undefined {
  let orientation = 1;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] ?? 0;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    // Markers without a length field.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2;
      continue;
    }
    const length = u16be(bytes, at + 2);
    if (length < 2) return undefined;
    if (marker === 0xe1) orientation = exifOrientation(bytes, at + 4, Math.min(bytes.length, at + 2 + length));
    const isStartOfFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isStartOfFrame) {
      if (at + 9 > bytes.length) return undefined;
      return { format: "jpeg", width: u16be(bytes, at + 7), height: u16be(bytes, at + 5), orientation };
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image or scan data before any frame header
    at += 2 + length;
  }
  return undefined;
}

function webpInfo(bytes: Uint8Array): ImageInfo | undefined {
  const chunk = ascii(bytes, 12, 4);
  if (chunk === "VP8 " && bytes.length >= 30 && bytes[23] === 0x9d && bytes[24] === 0x01 && bytes[25] === 0x2a) {
    return { format: "webp", width: u16le(bytes, 26) & 0x3fff, height: u16le(bytes, 28) & 0x3fff, orientation: 1 };
  }
  if (chunk === "VP8L" && bytes.length >= 25 && bytes[20] === 0x2f) {
    const bits = u16le(bytes, 21) + u16le(bytes, 23) * 0x10000;
    return { format: "webp", width: (bits & 0x3fff) + 1, height: Math.floor(bits / 0x4000) % 0x4000 + 1, orientation: 1 };
  }
  if (chunk === "VP8X" && bytes.length >= 30) {
    return { format: "webp", width: u24le(bytes, 24) + 1, height: u24le(bytes, 27) + 1, orientation: 1 };
  }
  return undefined;
}

/** The format and dimensions of an image we can thumbnail, or undefined for anything else. */
export function readImageInfo(bytes: Uint8Array): ImageInfo | undefined {
  if (bytes.length >= 8 && ascii(bytes, 0, 8) === "\x89PNG\r\n\x1a\n") return pngInfo(bytes);
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a")) return gifInfo(bytes);
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return jpegInfo(bytes);
  if (bytes.length >= 16 && ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 4) === "WEBP") return webpInfo(bytes);
  return undefined;
}

/** Dimensions as displayed: EXIF orientations 5–8 swap width and height. */
export function orientedSize(info: ImageInfo): { width: number; height: number } {
  return info.orientation >= 5 ? { width: info.height, height: info.width } : { width: info.width, height: info.height };
}
