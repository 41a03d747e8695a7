/**
 * Applying an EXIF orientation to RGBA pixels, so thumbnails of photos taken sideways come out upright.
 * Done on the (small) thumbnail after resizing, never on the full image.
 */

export interface RgbaImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

/** For a displayed pixel (x, y), the stored pixel it comes from, per EXIF orientation 1–8. */
function sourcePixel(orientation: number, x: number, y: number, width: number, height: number): [number, number] {
  switch (orientation) {
    case 2:
      return [width - 1 - x, y]; // mirrored horizontally
    case 3:
      return [width - 1 - x, height - 1 - y]; // rotated 180°
    case 4:
      return [x, height - 1 - y]; // mirrored vertically
    case 5:
      return [y, x]; // transposed
    case 6:
      return [y, height - 1 - x]; // rotated 90° clockwise
    case 7:
      return [width - 1 - y, height - 1 - x]; // transversed
    case 8:
      return [width - 1 - y, x]; // rotated 90° counter-clockwise
    default:
      return [x, y];
  }
}

/** The image as it should be displayed; orientations 5–8 swap width and height. */
export function applyOrientation(image: RgbaImage, orientation: number): RgbaImage {
  if (orientation < 2 || orientation > 8) return image;
  const swapped = orientation >= 5;
  const width = swapped ? image.height : image.width;
  const height = swapped ? image.width : image.height;
  const pixels = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sourceX, sourceY] = sourcePixel(orientation, x, y, image.width, image.height);
      const from = (sourceY * image.width + sourceX) * 4;
      pixels.set(image.pixels.subarray(from, from + 4), (y * width + x) * 4);
    }
  }
  return { pixels, width, height };
}
