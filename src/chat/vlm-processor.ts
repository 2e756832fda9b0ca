/**
 * The image side of a vision-language model's processor, as transformers.js runs it in Node (so the pixels the
 * vision encoder sees match its, bit for bit where sharp does the work):
 *
 * - LLaVA / LLaVA-OneVision (`LlavaProcessor`, a plain image processor): resize (sharp: an affine transform for
 *   nearest/bilinear/bicubic, lanczos3 for lanczos), optional center crop, rescale, normalise, CHW float32 →
 *   `pixel_values` [1, 3, H, W]. `<image>` becomes `(H / patch)·(W / patch) + num_additional_image_tokens` image
 *   tokens (one fewer under `vision_feature_select_strategy: "default"`, as transformers' LlavaProcessor counts),
 *   or processor_config.json's `num_image_tokens` where it has no `patch_size` (LLaVA-OneVision's has none).
 *   LLaVA-OneVision is one `size` view per image, as transformers.js runs it: its LlavaOnevisionImageProcessor is
 *   the plain one (`image_grid_pinpoints` unread) and its model writes the encoder's rows over the image tokens.
 *   Python's any-res (tiles of the best pinpoint, unpadded features, `image_newline` after each row) is not done:
 *   it needs the `image_newline` weight, which transformers.js never reads from its files.
 * - Idefics3 / SmolVLM (`Idefics3ImageProcessor`): the same resize to `size.longest_edge`, then (image splitting)
 *   a bilinear resize of the float image up to multiples of `max_image_size.longest_edge`, cut into rows × cols
 *   tiles of that size plus the whole image resized to one tile (the global image) → `pixel_values`
 *   [1, tiles, 3, S, S] and `pixel_attention_mask` [1, tiles, S, S]. `<image>` becomes, per tile,
 *   `<fake_token_around_image><row_r_col_c>` + `image_seq_len` × `<image>`, a newline after each row, then
 *   `\n<fake_token_around_image><global-img>` + `image_seq_len` × `<image>` + `<fake_token_around_image>`.
 */
import { MoxingError } from '../errors.js';
import { loadSharp, type RgbImage } from '../vision/image.js';

export type VlmLayout = 'llava' | 'idefics3';

type Json = Record<string, unknown>;
type Filter = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos';

/** PIL's resample codes as preprocessor_config.json stores them; box and hamming run as bilinear (transformers.js). */
const RESAMPLE: Readonly<Record<number, Filter>> = Object.freeze({ 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'bilinear', 5: 'bilinear' });

/** One image, ready for the vision encoder, and the text that stands for it in the prompt. */
export interface ProcessedImage {
  /** Tiles × 3 × height × width, CHW per tile. */
  readonly pixels: Float32Array;
  readonly tiles: number;
  readonly height: number;
  readonly width: number;
  /** Grid of the split tiles (0 × 0 when the image was not split). */
  readonly rows: number;
  readonly cols: number;
}

interface Resize {
  shortestEdge?: number;
  longestEdge?: number;
  height?: number;
  width?: number;
}

/** The image processor of a VLM, from its preprocessor_config.json and processor_config.json. */
export class VlmImageProcessor {
  private readonly resize: Resize | null;
  private readonly filter: Filter;
  private readonly crop: { height: number; width: number } | null;
  private readonly rescale: number | null;
  private readonly mean: readonly number[] | null;
  private readonly std: readonly number[] | null;
  /** Idefics3: the tile side; null for LLaVA. */
  private readonly tileSize: number | null;
  private readonly split: boolean;

  constructor(
    readonly layout: VlmLayout,
    preprocessor: Json,
    private readonly processor: Json,
  ) {
    this.resize = parseResize(preprocessor);
    this.filter = RESAMPLE[typeof preprocessor.resample === 'number' ? preprocessor.resample : 2] ?? 'bilinear';
    const crop = preprocessor.crop_size;
    this.crop = preprocessor.do_center_crop ? (typeof crop === 'number' ? { height: crop, width: crop } : (crop as { height: number; width: number })) : null;
    this.rescale = preprocessor.do_rescale === false ? null : typeof preprocessor.rescale_factor === 'number' ? preprocessor.rescale_factor : 1 / 255;
    const triple = (value: unknown): number[] | null => (Array.isArray(value) ? value.map(Number) : typeof value === 'number' ? [value, value, value] : null);
    this.mean = preprocessor.do_normalize ? triple(preprocessor.image_mean) : null;
    this.std = preprocessor.do_normalize ? triple(preprocessor.image_std) : null;
    if (this.std?.some((s) => s === 0)) throw new MoxingError('CONFIG_INVALID', 'preprocessor_config.json has an image_std of 0');
    const max = preprocessor.max_image_size as Json | undefined;
    this.tileSize = layout === 'idefics3' ? Number(max?.longest_edge ?? NaN) : null;
    if (this.tileSize !== null && !(this.tileSize > 0)) throw new MoxingError('CONFIG_INVALID', 'preprocessor_config.json lacks max_image_size.longest_edge, the tile size of an Idefics3 / SmolVLM image processor');
    this.split = preprocessor.do_image_splitting !== false;
  }

  /** Resize, crop, rescale and normalise one image, then (Idefics3) split it into tiles. */
  async process(image: RgbImage): Promise<ProcessedImage> {
    let rgb = image;
    if (this.resize) {
      const [width, height] = outputSize(rgb.width, rgb.height, this.resize);
      rgb = await resizeRgb(rgb, width, height, this.filter);
    }
    if (this.crop) rgb = centerCrop(rgb, this.crop.width, this.crop.height);
    const chw = this.toFloat(rgb);
    if (this.tileSize === null) return { pixels: chw, tiles: 1, height: rgb.height, width: rgb.width, rows: 0, cols: 0 };
    return this.tile(chw, rgb.height, rgb.width, this.tileSize);
  }

  /** The prompt text that replaces one `<image>` for an image processed to `image`. */
  placeholder(image: ProcessedImage, imageToken: string): string {
    if (this.layout === 'llava') return imageToken.repeat(this.llavaTokenCount(image));
    const seq = Number(this.processor.image_seq_len ?? 64);
    const fake = '<fake_token_around_image>';
    const global = `${fake}<global-img>${imageToken.repeat(seq)}${fake}`;
    if (image.rows === 0 && image.cols === 0) return global;
    let text = '';
    for (let r = 1; r <= image.rows; r++) {
      for (let c = 1; c <= image.cols; c++) text += `${fake}<row_${r}_col_${c}>${imageToken.repeat(seq)}`;
      text += '\n';
    }
    return `${text}\n${global}`;
  }

  private llavaTokenCount(image: ProcessedImage): number {
    const patch = Number(this.processor.patch_size);
    if (!(patch > 0)) {
      const fixed = Number(this.processor.num_image_tokens);
      if (fixed > 0) return fixed;
      throw new MoxingError('CONFIG_INVALID', 'processor_config.json has neither patch_size nor num_image_tokens; the number of image tokens is unknown');
    }
    const extra = Number(this.processor.num_additional_image_tokens ?? 0);
    const dropped = this.processor.vision_feature_select_strategy === 'default' ? 1 : 0;
    return Math.floor(image.height / patch) * Math.floor(image.width / patch) + extra - dropped;
  }

  /** HWC bytes → CHW float32, rescaled and normalised. */
  private toFloat(rgb: RgbImage): Float32Array {
    const plane = rgb.width * rgb.height;
    const out = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        let v = rgb.data[i * 3 + c];
        if (this.rescale !== null) v = Math.fround(v * this.rescale);
        if (this.mean && this.std) v = Math.fround(Math.fround(v - this.mean[c]) / this.std[c]);
        out[c * plane + i] = v;
      }
    }
    return out;
  }

  /** Idefics3ImageProcessor's splitting: tiles of `size`, then the global image. */
  private tile(chw: Float32Array, height: number, width: number, size: number): ProcessedImage {
    if (!this.split) return { pixels: resizeBilinear(chw, height, width, size, size), tiles: 1, height: size, width: size, rows: 0, cols: 0 };
    const target = visionEncoderSize(height, width, size);
    const resized = resizeBilinear(chw, height, width, target.height, target.width);
    const frames: Float32Array[] = [];
    let rows = 0;
    let cols = 0;
    let global = resized;
    if (target.height > size || target.width > size) {
      rows = Math.ceil(target.height / size);
      cols = Math.ceil(target.width / size);
      const tileH = Math.ceil(target.height / rows);
      const tileW = Math.ceil(target.width / cols);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const top = r === rows - 1 ? target.height - tileH : r * tileH;
          const left = c === cols - 1 ? target.width - tileW : c * tileW;
          frames.push(sliceChw(resized, target.height, target.width, top, left, tileH, tileW));
        }
      }
      if (target.height !== size || target.width !== size) global = resizeBilinear(resized, target.height, target.width, size, size);
      if (tileH !== size || tileW !== size) throw new MoxingError('INTERNAL', `Idefics3 tiles are ${tileH}x${tileW}, not ${size}x${size}`);
    }
    frames.push(global);
    const tiles = frames.length;
    const pixels = new Float32Array(tiles * 3 * size * size);
    frames.forEach((f, i) => pixels.set(f, i * f.length));
    return { pixels, tiles, height: size, width: size, rows, cols };
  }
}

function parseResize(config: Json): Resize | null {
  const size = config.size ?? config.image_size;
  if (config.do_resize === false || size === undefined || size === null) return null;
  if (typeof size === 'number') return { shortestEdge: size, longestEdge: typeof config.max_size === 'number' ? config.max_size : size };
  const s = size as Json;
  const num = (key: string) => (typeof s[key] === 'number' ? (s[key] as number) : undefined);
  const out: Resize = { shortestEdge: num('shortest_edge'), longestEdge: num('longest_edge'), height: num('height'), width: num('width') };
  if (out.shortestEdge === undefined && out.longestEdge === undefined && (out.height === undefined || out.width === undefined)) {
    throw new MoxingError('CONFIG_INVALID', `preprocessor_config.json "size" is not understood: ${JSON.stringify(size).slice(0, 100)}`);
  }
  return out;
}

/** transformers.js `get_resize_output_image_size`: [width, height]. */
function outputSize(width: number, height: number, size: Resize): [number, number] {
  if (size.shortestEdge !== undefined || size.longestEdge !== undefined) {
    const short = size.shortestEdge === undefined ? 1 : Math.max(size.shortestEdge / width, size.shortestEdge / height);
    const w = width * short;
    const h = height * short;
    const long = size.longestEdge === undefined ? 1 : Math.min(size.longestEdge / w, size.longestEdge / h);
    return [Math.floor(Number((w * long).toFixed(2))), Math.floor(Number((h * long).toFixed(2)))];
  }
  return [size.width!, size.height!];
}

/** Idefics3's `get_resize_for_vision_encoder`: both sides up to multiples of `size`, keeping the aspect ratio. */
function visionEncoderSize(height: number, width: number, size: number): { height: number; width: number } {
  const aspect = width / height;
  if (width >= height) {
    const w = Math.ceil(width / size) * size;
    return { width: w, height: Math.ceil(Math.floor(w / aspect) / size) * size };
  }
  const h = Math.ceil(height / size) * size;
  return { height: h, width: Math.ceil(Math.floor(h * aspect) / size) * size };
}

/** sharp's resize as transformers.js calls it (RawImage.resize in Node). */
async function resizeRgb(image: RgbImage, width: number, height: number, filter: Filter): Promise<RgbImage> {
  if (width === image.width && height === image.height) return image;
  if (!(width > 0 && height > 0)) throw new MoxingError('IMAGE_INVALID', `the image (${image.width}x${image.height}) would resize to ${width}x${height}; it is too thin`);
  const sharp = await loadSharp();
  let img = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  img = filter === 'lanczos'
    ? img.resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
    : img.affine([width / image.width, 0, 0, height / image.height], { interpolator: sharp.interpolators[filter === 'bicubic' ? 'bicubic' : filter === 'nearest' ? 'nearest' : 'bilinear'] });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new MoxingError('INTERNAL', `sharp returned ${info.channels} channels`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Center crop (offsets floored), zero-padded where the crop is larger than the image. */
function centerCrop(image: RgbImage, width: number, height: number): RgbImage {
  if (image.width === width && image.height === height) return image;
  const left = Math.floor((image.width - width) / 2);
  const top = Math.floor((image.height - height) / 2);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= image.width) continue;
      out.set(image.data.subarray((sy * image.width + sx) * 3, (sy * image.width + sx) * 3 + 3), (y * width + x) * 3);
    }
  }
  return { width, height, data: out };
}

/**
 * Bilinear resize of a CHW float image, as ONNX Runtime's `Resize` (mode linear, half_pixel, no antialias) does
 * it for transformers.js's `interpolate_4d`.
 */
export function resizeBilinear(chw: Float32Array, height: number, width: number, outH: number, outW: number): Float32Array {
  if (height === outH && width === outW) return chw;
  const axis = (outSize: number, inSize: number) => {
    const scale = Math.fround(outSize / inSize);
    const lo = new Int32Array(outSize);
    const hi = new Int32Array(outSize);
    const wLo = new Float32Array(outSize);
    const wHi = new Float32Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const x = Math.min(Math.max(Math.fround((o + 0.5) / scale - 0.5), 0), inSize - 1);
      lo[o] = Math.min(Math.floor(x), inSize - 1);
      hi[o] = Math.min(lo[o] + 1, inSize - 1);
      const d1 = Math.abs(x - lo[o]);
      const d2 = Math.abs(x - hi[o]);
      [wLo[o], wHi[o]] = lo[o] === hi[o] ? [0.5, 0.5] : [d2, d1];
    }
    return { lo, hi, wLo, wHi };
  };
  const ys = axis(outH, height);
  const xs = axis(outW, width);
  const out = new Float32Array(3 * outH * outW);
  for (let c = 0; c < 3; c++) {
    const src = chw.subarray(c * height * width, (c + 1) * height * width);
    const dst = c * outH * outW;
    for (let y = 0; y < outH; y++) {
      const r1 = ys.lo[y] * width;
      const r2 = ys.hi[y] * width;
      for (let x = 0; x < outW; x++) {
        const top = xs.wLo[x] * src[r1 + xs.lo[x]] + xs.wHi[x] * src[r1 + xs.hi[x]];
        const bottom = xs.wLo[x] * src[r2 + xs.lo[x]] + xs.wHi[x] * src[r2 + xs.hi[x]];
        out[dst + y * outW + x] = ys.wLo[y] * top + ys.wHi[y] * bottom;
      }
    }
  }
  return out;
}

function sliceChw(chw: Float32Array, height: number, width: number, top: number, left: number, h: number, w: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      const from = c * height * width + (top + y) * width + left;
      out.set(chw.subarray(from, from + w), c * h * w + y * w);
    }
  }
  return out;
}
