/**
 * Which thumbnail answers a request, and how to cut it (spec: "Thumbnails"). The server keeps a fixed set
 * of sizes (Synapse's `thumbnail_sizes`), so requests of arbitrary sizes share a handful of cached
 * thumbnails; the choice follows Synapse's `_select_thumbnail`. Thumbnails are never upscaled.
 */
import type { ThumbnailSize } from "../config";

export type ThumbnailMethod = "crop" | "scale";

export interface ThumbnailPlan {
  /** Size of the thumbnail produced. */
  width: number;
  height: number;
  method: ThumbnailMethod;
}

/** Largest size with the source's aspect ratio that fits in maxWidth × maxHeight (Synapse's `aspect`). */
export function fitWithin(sourceWidth: number, sourceHeight: number, maxWidth: number, maxHeight: number) {
  if (maxWidth * sourceHeight < maxHeight * sourceWidth) {
    return { width: maxWidth, height: Math.max(1, Math.floor((maxWidth * sourceHeight) / sourceWidth)) };
  }
  return { width: Math.max(1, Math.floor((maxHeight * sourceWidth) / sourceHeight)), height: maxHeight };
}

/** The thumbnail a configured size yields for a source image of the given (displayed) size. */
export function plannedThumbnail(sourceWidth: number, sourceHeight: number, size: ThumbnailSize): ThumbnailPlan {
  if (size.method === "scale") {
    const fitted = fitWithin(sourceWidth, sourceHeight, size.width, size.height);
    return { width: Math.min(sourceWidth, fitted.width), height: Math.min(sourceHeight, fitted.height), method: "scale" };
  }
  // Crop to the requested aspect ratio; if the source is too small for the size, crop at the source's own resolution.
  const upscale = Math.max(size.width / sourceWidth, size.height / sourceHeight);
  if (upscale <= 1) return { width: size.width, height: size.height, method: "crop" };
  return {
    width: Math.max(1, Math.min(sourceWidth, Math.round(size.width / upscale))),
    height: Math.max(1, Math.min(sourceHeight, Math.round(size.height / upscale))),
    method: "crop",
  };
}

/** Lexicographic comparison of quality tuples (smaller is better), as Python compares tuples. */
function compareTuples(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

function best(candidates: { quality: number[]; plan: ThumbnailPlan }[]): ThumbnailPlan | undefined {
  let chosen: { quality: number[]; plan: ThumbnailPlan } | undefined;
  // Ties keep the earlier candidate, as Synapse's min() does.
  for (const candidate of candidates) if (!chosen || compareTuples(candidate.quality, chosen.quality) < 0) chosen = candidate;
  return chosen?.plan;
}

/**
 * The configured thumbnail closest to what was asked for: one at least as large as the request when
 * there is one, preferring (for crop) the closest aspect ratio, then the closest size.
 */
export function selectThumbnail(
  sourceWidth: number,
  sourceHeight: number,
  desiredWidth: number,
  desiredHeight: number,
  method: ThumbnailMethod,
  sizes: readonly ThumbnailSize[],
): ThumbnailPlan | undefined {
  const seen = new Set<string>();
  const plans: ThumbnailPlan[] = [];
  for (const size of sizes) {
    if (size.method !== method) continue;
    const plan = plannedThumbnail(sourceWidth, sourceHeight, size);
    const key = `${plan.width}x${plan.height}`;
    if (!seen.has(key)) {
      seen.add(key);
      plans.push(plan);
    }
  }
  const largeEnough: { quality: number[]; plan: ThumbnailPlan }[] = [];
  const tooSmall: { quality: number[]; plan: ThumbnailPlan }[] = [];
  for (const plan of plans) {
    const sizeQuality = Math.abs((desiredWidth - plan.width) * (desiredHeight - plan.height));
    const quality =
      method === "crop"
        ? [
            Math.abs(desiredWidth * plan.height - desiredHeight * plan.width),
            desiredWidth <= plan.width && desiredHeight <= plan.height ? 0 : 1,
            sizeQuality,
          ]
        : [sizeQuality];
    (plan.width >= desiredWidth || plan.height >= desiredHeight ? largeEnough : tooSmall).push({ quality, plan });
  }
  return best(largeEnough) ?? best(tooSmall);
}

/** How to produce a crop thumbnail: resize the source to scaledWidth × scaledHeight, then cut the centre. */
export function cropGeometry(sourceWidth: number, sourceHeight: number, width: number, height: number) {
  if (width * sourceHeight > height * sourceWidth) {
    const scaledHeight = Math.max(height, Math.floor((width * sourceHeight) / sourceWidth));
    return { scaledWidth: width, scaledHeight, left: 0, top: Math.floor((scaledHeight - height) / 2) };
  }
  const scaledWidth = Math.max(width, Math.floor((height * sourceWidth) / sourceHeight));
  return { scaledWidth, scaledHeight: height, left: Math.floor((scaledWidth - width) / 2), top: 0 };
}
