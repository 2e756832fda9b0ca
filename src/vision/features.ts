/**
 * Image features from a VisionModel: global embeddings (CLS, mean of patch tokens, or both concatenated, as
 * DINOv2's linear evaluation uses) and the dense patch-feature grid. Register tokens are never pooled.
 */
import { MoxingError } from '../errors.js';
import { loadImage, type ImageInput, type RgbImage } from './image.js';
import type { TokenBatch, VisionModel } from './model.js';
import { preprocess, preprocessDense, type PixelValues } from './processor.js';

export const POOLINGS = ['cls', 'mean', 'cls+mean'] as const;
export type Pooling = (typeof POOLINGS)[number];

export interface EmbedOptions {
  /** Which tokens make the embedding. @default 'cls' */
  pool: Pooling;
  /** Scale each embedding to unit L2 norm (what cosine search wants). @default true */
  normalize: boolean;
  /** Images per inference call. @default 16 */
  batchSize: number;
  /** Called after each batch with the number of images embedded so far. */
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_EMBED: Readonly<Omit<EmbedOptions, 'onProgress'>> = Object.freeze({ pool: 'cls', normalize: true, batchSize: 16 });

/** Embedding width of `pool` for a model of `hidden` channels. */
export function embeddingSize(hidden: number, pool: Pooling): number {
  return pool === 'cls+mean' ? 2 * hidden : hidden;
}

/** Scales `v` in place to unit L2 norm (left as is when it is all zeros) and returns it. */
export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  if (sum > 0) {
    const inv = 1 / Math.sqrt(sum);
    for (let i = 0; i < v.length; i++) v[i] *= inv;
  }
  return v;
}

/** Pools image `index` of a token batch. */
export function poolTokens(tokens: TokenBatch, index: number, pool: Pooling): Float32Array {
  const { hidden, tokens: count, registers, data } = tokens;
  const base = index * count * hidden;
  const cls = data.subarray(base, base + hidden);
  if (pool === 'cls') return cls.slice();
  const mean = new Float32Array(hidden);
  const first = 1 + registers;
  // Accumulate in float64 so long token sequences do not lose precision.
  const acc = new Float64Array(hidden);
  for (let t = first; t < count; t++) {
    const row = base + t * hidden;
    for (let j = 0; j < hidden; j++) acc[j] += data[row + j];
  }
  const n = count - first;
  for (let j = 0; j < hidden; j++) mean[j] = acc[j] / n;
  if (pool === 'mean') return mean;
  const both = new Float32Array(2 * hidden);
  both.set(cls, 0);
  both.set(mean, hidden);
  return both;
}

export function resolveEmbedOptions(options: Partial<EmbedOptions> = {}): EmbedOptions {
  const merged = { ...DEFAULT_EMBED, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as EmbedOptions;
  if (!(POOLINGS as readonly string[]).includes(merged.pool)) {
    throw new MoxingError('BAD_ARGUMENT', `pool must be one of ${POOLINGS.join(', ')}, got "${merged.pool}"`);
  }
  if (!Number.isInteger(merged.batchSize) || merged.batchSize < 1 || merged.batchSize > 1024) {
    throw new MoxingError('BAD_ARGUMENT', `batch size must be a whole number from 1 to 1024, got ${merged.batchSize}`);
  }
  return merged;
}

/** Embeds already preprocessed images (all of one size, as crop-mode preprocessing gives), batched. */
export async function embedPixels(model: VisionModel, pixels: readonly PixelValues[], options: Partial<EmbedOptions> = {}): Promise<Float32Array[]> {
  const o = resolveEmbedOptions(options);
  const out: Float32Array[] = [];
  for (let start = 0; start < pixels.length; start += o.batchSize) {
    const chunk = pixels.slice(start, start + o.batchSize);
    const tokens = await model.run(chunk);
    for (let i = 0; i < chunk.length; i++) {
      const v = poolTokens(tokens, i, o.pool);
      out.push(o.normalize ? l2Normalize(v) : v);
    }
    o.onProgress?.(out.length, pixels.length);
  }
  return out;
}

/**
 * Loads, preprocesses and embeds images in batches, as a pipeline: while batch k runs (on the model's worker
 * lanes), batch k+1 is decoded (sharp, libuv threads) and resized (this thread), then queued behind it so no
 * lane waits for the slower half of batch k.
 * @returns one embedding per input, in input order.
 */
export async function embedImages(model: VisionModel, inputs: readonly ImageInput[], options: Partial<EmbedOptions> = {}): Promise<Float32Array[]> {
  const o = resolveEmbedOptions(options);
  const prepare = (start: number): Promise<PixelValues[]> =>
    Promise.all(inputs.slice(start, start + o.batchSize).map(async (input) => preprocessFor(model, await loadImage(input))));
  const out: Float32Array[] = [];
  const collect = async (batch: Promise<Float32Array[]>): Promise<void> => {
    out.push(...(await batch));
    o.onProgress?.(out.length, inputs.length);
  };
  let next = inputs.length > 0 ? prepare(0) : null;
  let running: Promise<Float32Array[]> | null = null;
  for (let start = 0; next; start += o.batchSize) {
    const pixels = await next;
    next = start + o.batchSize < inputs.length ? prepare(start + o.batchSize) : null;
    // A failed prefetch or run must not surface as an unhandled rejection while another batch is awaited.
    next?.catch(() => undefined);
    const submitted = embedPixels(model, pixels, { ...o, onProgress: undefined });
    submitted.catch(() => undefined);
    if (running) await collect(running);
    running = submitted;
  }
  if (running) await collect(running);
  return out;
}

/** The model's own preprocessing (resize, crop, normalise) of one image. */
export function preprocessFor(model: VisionModel, image: RgbImage): PixelValues {
  return preprocess(image, model.info.processor);
}

export interface DenseOptions {
  /** Target shorter side in pixels before rounding to whole patches (models with a free input size). @default 448 */
  shortEdge: number;
}

export const DEFAULT_DENSE: Readonly<DenseOptions> = Object.freeze({ shortEdge: 448 });

/** Patch features of one image on its whole frame (no crop). */
export interface PatchGrid {
  readonly gridHeight: number;
  readonly gridWidth: number;
  readonly dim: number;
  /** [gridHeight * gridWidth, dim], row-major over the grid. */
  readonly data: Float32Array;
  /** The CLS token [dim]. */
  readonly cls: Float32Array;
  /** Size of the decoded image the grid covers. */
  readonly imageWidth: number;
  readonly imageHeight: number;
}

/** Dense preprocessing: the whole image at a multiple of the patch size (or the fixed size the export demands). */
export function preprocessDenseFor(model: VisionModel, image: RgbImage, options: Partial<DenseOptions> = {}): PixelValues {
  const { fixedSize, processor, patchSize } = model.info;
  if (fixedSize) return preprocess(image, { ...processor, resize: fixedSize, crop: null });
  return preprocessDense(image, processor, patchSize, options.shortEdge ?? DEFAULT_DENSE.shortEdge);
}

/** Runs the model on the whole image and returns the patch-feature grid [h, w, d] (registers dropped). */
export async function patchFeatures(model: VisionModel, image: RgbImage, options: Partial<DenseOptions> = {}): Promise<PatchGrid> {
  const tokens = await model.run([preprocessDenseFor(model, image, options)]);
  return gridOf(tokens, 0, image);
}

/** The patch grid of image `index` of a token batch. */
function gridOf(tokens: TokenBatch, index: number, image: RgbImage): PatchGrid {
  const { hidden, tokens: count, registers, data, gridHeight, gridWidth } = tokens;
  const base = index * count * hidden;
  return {
    gridHeight,
    gridWidth,
    dim: hidden,
    data: data.slice(base + (1 + registers) * hidden, base + count * hidden),
    cls: data.slice(base, base + hidden),
    imageWidth: image.width,
    imageHeight: image.height,
  };
}
