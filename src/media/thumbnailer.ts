/**
 * Thumbnail rendering inside the Worker with Photon (Rust's `image` crate compiled to WebAssembly; the
 * .wasm is imported as a module, which workerd allows, unlike compiling WebAssembly from bytes at run
 * time). Decodes JPEG, PNG, WebP and the first frame of a GIF; callers check the pixel count first.
 */
import type { ImageInfo } from "./image-info";
import { applyOrientation } from "./orientation";
import { cropGeometry, type ThumbnailPlan } from "./thumbnail-sizing";

type Photon = typeof import("@cf-wasm/photon");
type PhotonImage = InstanceType<Photon["PhotonImage"]>;

let photonModule: Promise<Photon> | undefined;
/** Loaded on first use, so requests that never thumbnail do not pay for instantiating the module. */
const loadPhoton = (): Promise<Photon> => (photonModule ??= import("@cf-wasm/photon"));

export interface Thumbnail {
  bytes: Uint8Array;
  contentType: "image/jpeg" | "image/png";
  width: number;
  height: number;
}

/** Synapse's JPEG thumbnail quality. */
const JPEG_QUALITY = 80;

/** JPEGs stay JPEGs; everything else becomes PNG, which keeps transparency. */
export function thumbnailContentType(info: ImageInfo): Thumbnail["contentType"] {
  return info.format === "jpeg" ? "image/jpeg" : "image/png";
}

/**
 * Renders `plan` (in displayed orientation) from the image's bytes. Resizing happens in the stored
 * orientation and only the small result is turned upright.
 */
export async function renderThumbnail(bytes: Uint8Array, info: ImageInfo, plan: ThumbnailPlan): Promise<Thumbnail> {
  const photon = await loadPhoton();
  const swapped = info.orientation >= 5;
  const targetWidth = swapped ? plan.height : plan.width;
  const targetHeight = swapped ? plan.width : plan.height;
  const images: PhotonImage[] = [];
  const keep = (image: PhotonImage) => {
    images.push(image);
    return image;
  };
  try {
    const source = keep(photon.PhotonImage.new_from_byteslice(bytes));
    const sourceWidth = source.get_width();
    const sourceHeight = source.get_height();
    const resized = (width: number, height: number) =>
      width === sourceWidth && height === sourceHeight
        ? source
        : keep(photon.resize(source, width, height, photon.SamplingFilter.Triangle));
    let result: PhotonImage;
    if (plan.method === "scale") {
      result = resized(targetWidth, targetHeight);
    } else {
      const crop = cropGeometry(sourceWidth, sourceHeight, targetWidth, targetHeight);
      const scaled = resized(crop.scaledWidth, crop.scaledHeight);
      result =
        crop.scaledWidth === targetWidth && crop.scaledHeight === targetHeight
          ? scaled
          : keep(photon.crop(scaled, crop.left, crop.top, crop.left + targetWidth, crop.top + targetHeight));
    }
    if (info.orientation > 1) {
      const upright = applyOrientation(
        { pixels: result.get_raw_pixels(), width: result.get_width(), height: result.get_height() },
        info.orientation,
      );
      result = keep(new photon.PhotonImage(upright.pixels, upright.width, upright.height));
    }
    const contentType = thumbnailContentType(info);
    return {
      bytes: contentType === "image/jpeg" ? result.get_bytes_jpeg(JPEG_QUALITY) : result.get_bytes(),
      contentType,
      width: result.get_width(),
      height: result.get_height(),
    };
  } finally {
    for (const image of images) image.free();
  }
}
