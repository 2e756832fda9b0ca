/**
 * Image preprocessing as the model's `preprocessor_config.json` describes it, with Hugging Face's semantics:
 * resize (8-bit, Pillow filters) -> center crop -> rescale -> normalise -> CHW float32.
 *
 * DINOv2 exports ship BitImageProcessor (shortest edge 256, bicubic, crop 224); DINO exports ship
 * ViTImageProcessor / ViTFeatureExtractor (a square 224x224 resize, bilinear, no crop).
 */
import { MoxingError } from '../errors.js';
import type { RgbImage } from './image.js';
import { resampleFromPil, resizePixels, type ResampleFilter } from './resample.js';

export type ResizeTarget = { readonly shortestEdge: number } | { readonly height: number; readonly width: number };

/** Everything preprocessing needs, resolved from a config (or written by hand). */
export interface ImageProcessorOptions {
  /** How to resize; null skips resizing. */
  readonly resize: ResizeTarget | null;
  readonly resample: ResampleFilter;
  /** Center crop size in pixels; null skips cropping. */
  readonly crop: { readonly height: number; readonly width: number } | null;
  /** Multiplier from 8-bit values to [0, 1]; null skips rescaling. */
  readonly rescaleFactor: number | null;
  /** Per-channel mean and std (RGB); null skips normalising. */
  readonly normalize: { readonly mean: readonly number[]; readonly std: readonly number[] } | null;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** DINOv2's preprocessing (facebook/dinov2-*, BitImageProcessor). */
export const DINOV2_PROCESSOR: Readonly<ImageProcessorOptions> = Object.freeze({
  resize: { shortestEdge: 256 },
  resample: 'bicubic',
  crop: { height: 224, width: 224 },
  rescaleFactor: 1 / 255,
  normalize: { mean: IMAGENET_MEAN, std: IMAGENET_STD },
});

/** DINO v1's preprocessing (facebook/dino-vit*, ViTFeatureExtractor: square 224 resize, bilinear). */
export const DINO_PROCESSOR: Readonly<ImageProcessorOptions> = Object.freeze({
  resize: { height: 224, width: 224 },
  resample: 'bilinear',
  crop: null,
  rescaleFactor: 1 / 255,
  normalize: { mean: IMAGENET_MEAN, std: IMAGENET_STD },
});

type Json = Record<string, unknown>;

/** Builds processor options from the JSON of a `preprocessor_config.json`, with each processor class's defaults. */
export function processorFromConfig(config: Json): ImageProcessorOptions {
  const type = String(config.image_processor_type ?? config.feature_extractor_type ?? '');
  // BitImageProcessor and CLIPImageProcessor read an integer size as the shortest edge; ViT as a square.
  const shortestEdgeByDefault = /^(Bit|CLIP|ConvNext|Dinov2)/i.test(type);
  const base = shortestEdgeByDefault ? DINOV2_PROCESSOR : DINO_PROCESSOR;
  const flag = (key: string, fallback: boolean): boolean => (config[key] === undefined ? fallback : Boolean(config[key]));

  const resize = flag('do_resize', true) ? parseSize(config.size, shortestEdgeByDefault) ?? base.resize : null;
  const resample = typeof config.resample === 'number' ? resampleFromPil(config.resample) : base.resample;
  const crop = flag('do_center_crop', base.crop !== null) ? parseCrop(config.crop_size) ?? base.crop : null;
  const rescaleFactor = flag('do_rescale', true) ? numberOr(config.rescale_factor, 1 / 255) : null;
  const normalize = flag('do_normalize', true)
    ? { mean: triple(config.image_mean, 'image_mean') ?? IMAGENET_MEAN, std: triple(config.image_std, 'image_std') ?? IMAGENET_STD }
    : null;
  if (normalize && normalize.std.some((s) => s === 0)) throw new MoxingError('CONFIG_INVALID', 'preprocessor_config.json has an image_std of 0');
  return { resize, resample, crop, rescaleFactor, normalize };
}

function parseSize(size: unknown, shortestEdgeByDefault: boolean): ResizeTarget | null {
  if (size === undefined || size === null) return null;
  if (typeof size === 'number') return shortestEdgeByDefault ? { shortestEdge: size } : { height: size, width: size };
  if (typeof size === 'object') {
    const s = size as Json;
    if (typeof s.shortest_edge === 'number') return { shortestEdge: s.shortest_edge };
    if (typeof s.height === 'number' && typeof s.width === 'number') return { height: s.height, width: s.width };
  }
  throw new MoxingError('CONFIG_INVALID', `preprocessor_config.json "size" is not understood: ${JSON.stringify(size)}`);
}

function parseCrop(crop: unknown): { height: number; width: number } | null {
  if (crop === undefined || crop === null) return null;
  if (typeof crop === 'number') return { height: crop, width: crop };
  const c = crop as Json;
  if (typeof c.height === 'number' && typeof c.width === 'number') return { height: c.height, width: c.width };
  throw new MoxingError('CONFIG_INVALID', `preprocessor_config.json "crop_size" is not understood: ${JSON.stringify(crop)}`);
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function triple(value: unknown, name: string): readonly number[] | null {
  if (value === undefined) return null;
  if (typeof value === 'number') return [value, value, value];
  if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number')) return value as number[];
  throw new MoxingError('CONFIG_INVALID', `preprocessor_config.json "${name}" must be 3 numbers, got ${JSON.stringify(value)}`);
}

/** Output size of Hugging Face's shortest-edge resize (the long side is truncated, not rounded). */
export function shortestEdgeSize(width: number, height: number, edge: number): { width: number; height: number } {
  if (width <= height) return { width: edge, height: Math.max(1, Math.trunc((edge * height) / width)) };
  return { width: Math.max(1, Math.trunc((edge * width) / height)), height: edge };
}

/** A preprocessed image: CHW float32 plus the geometry that produced it. */
export interface PixelValues {
  /** [3, height, width], channel-major. */
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}

/** Resizes, crops, rescales and normalises one image. */
export function preprocess(image: RgbImage, options: ImageProcessorOptions): PixelValues {
  let { width, height, data } = image;
  const target = !options.resize
    ? { width, height }
    : 'shortestEdge' in options.resize
      ? shortestEdgeSize(width, height, options.resize.shortestEdge)
      : options.resize;
  const crop = options.crop;
  if (crop && crop.width <= target.width && crop.height <= target.height) {
    // The usual case: compute only the cropped window of the resize (exact, and far cheaper).
    const region = { left: Math.floor((target.width - crop.width) / 2), top: Math.floor((target.height - crop.height) / 2), ...crop };
    data = resizePixels(data, width, height, 3, target.width, target.height, options.resample, region);
    ({ width, height } = crop);
  } else {
    if (target.width !== width || target.height !== height) {
      data = resizePixels(data, width, height, 3, target.width, target.height, options.resample);
      ({ width, height } = target);
    }
    if (crop) {
      data = centerCrop(data, width, height, crop.width, crop.height);
      ({ width, height } = crop);
    }
  }
  return { data: toChw(data, width, height, options), height, width, sourceWidth: image.width, sourceHeight: image.height };
}

/**
 * Dense (no-crop) preprocessing for patch features: keeps the aspect ratio, scales the shorter side to about
 * `shortEdge` (less when the longer side would pass `maxLongEdge`, 4 x shortEdge by default, which bounds the
 * token count of extreme panoramas), and rounds both sides to multiples of `patchSize` so every pixel falls in
 * a patch.
 */
export function preprocessDense(image: RgbImage, options: ImageProcessorOptions, patchSize: number, shortEdge: number, maxLongEdge = 4 * shortEdge): PixelValues {
  if (!Number.isInteger(shortEdge) || shortEdge < patchSize) {
    throw new MoxingError('BAD_ARGUMENT', `dense short edge must be a whole number >= the patch size ${patchSize}, got ${shortEdge}`);
  }
  const scale = Math.min(shortEdge / Math.min(image.width, image.height), maxLongEdge / Math.max(image.width, image.height));
  const round = (v: number): number => Math.max(patchSize, Math.round((v * scale) / patchSize) * patchSize);
  const resized = { width: round(image.width), height: round(image.height) };
  return preprocess(image, { ...options, resize: resized, crop: null });
}

/** Hugging Face's center crop, zero-padding (in 8-bit space) where the image is smaller than the crop. */
function centerCrop(src: Uint8Array, width: number, height: number, cropW: number, cropH: number): Uint8Array {
  const out = new Uint8Array(cropW * cropH * 3);
  // Offsets of the crop inside the (virtually padded) image, as image_transforms.center_crop computes them.
  const padTop = cropH > height ? Math.ceil((cropH - height) / 2) : 0;
  const padLeft = cropW > width ? Math.ceil((cropW - width) / 2) : 0;
  const top = Math.floor((Math.max(height, cropH) - cropH) / 2) - padTop;
  const left = Math.floor((Math.max(width, cropW) - cropW) / 2) - padLeft;
  for (let y = 0; y < cropH; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= height) continue;
    for (let x = 0; x < cropW; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= width) continue;
      const s = (sy * width + sx) * 3;
      const d = (y * cropW + x) * 3;
      out[d] = src[s];
      out[d + 1] = src[s + 1];
      out[d + 2] = src[s + 2];
    }
  }
  return out;
}

function toChw(src: Uint8Array, width: number, height: number, options: ImageProcessorOptions): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  const scale = options.rescaleFactor ?? 1;
  for (let c = 0; c < 3; c++) {
    const mean = options.normalize ? options.normalize.mean[c] : 0;
    const std = options.normalize ? options.normalize.std[c] : 1;
    // Rounded to float32 after rescaling, as transformers' rescale() casts before normalize().
    for (let i = 0; i < plane; i++) out[c * plane + i] = (Math.fround(src[i * 3 + c] * scale) - mean) / std;
  }
  return out;
}
