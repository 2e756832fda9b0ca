/**
 * Pillow's resampling, re-implemented on 8-bit pixels so preprocessing matches Hugging Face image processors
 * (which resize through `PIL.Image.resize(..., reducing_gap=None)`) bit for bit.
 *
 * Pillow (src/libImaging/Resample.c) convolves separably: a horizontal pass, then a vertical pass, each with
 * per-output-pixel weights whose support widens by the scale when shrinking (antialiasing). Weights are
 * normalised in double precision, then turned into 22-bit fixed point; every pass rounds and clips to 8 bits.
 * sharp's (libvips) kernels differ in support and rounding, which is why we do not use them here.
 */
import { MoxingError } from '../errors.js';

/** PIL's resample codes, as `preprocessor_config.json` stores them. */
export const PIL_RESAMPLE = { nearest: 0, lanczos: 1, bilinear: 2, bicubic: 3, box: 4, hamming: 5 } as const;
export type ResampleFilter = keyof typeof PIL_RESAMPLE;

interface Filter {
  readonly support: number;
  readonly weight: (x: number) => number;
}

const sinc = (x: number): number => {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
};

const FILTERS: Record<Exclude<ResampleFilter, 'nearest'>, Filter> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, weight: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  hamming: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      const px = a * Math.PI;
      return (Math.sin(px) / px) * (0.54 + 0.46 * Math.cos(px));
    },
  },
  // Keys' cubic convolution with a = -0.5, as Pillow uses (torch uses -0.75).
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);

/** Maps a PIL resample code (0..5) to its filter name. */
export function resampleFromPil(code: number): ResampleFilter {
  const found = (Object.keys(PIL_RESAMPLE) as ResampleFilter[]).find((k) => PIL_RESAMPLE[k] === code);
  if (!found) throw new MoxingError('CONFIG_INVALID', `unknown PIL resample code ${code}: expected 0 to 5 (nearest, lanczos, bilinear, bicubic, box, hamming)`);
  return found;
}

interface Coefficients {
  readonly ksize: number;
  /** [outSize * 2]: first input index and count per output pixel. */
  readonly bounds: Int32Array;
  /** [outSize * ksize] fixed-point weights. */
  readonly weights: Int32Array;
}

function precompute(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

/** Rounds a fixed-point sum back to 8 bits. Sums stay within int32 (|sum| < 255 * 1.3 * 2^22), so `>>` floors exactly. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Horizontal pass: input rows [rowStart, rowStart + rows) of a width-wide image, output columns
 * [colStart, colStart + cols) of an outWidth-wide resize.
 */
function horizontalPass(
  src: Uint8Array, width: number, channels: number, rowStart: number, rows: number, outWidth: number, colStart: number, cols: number, filter: Filter,
): Uint8Array {
  const out = new Uint8Array(cols * rows * channels);
  const { ksize, bounds, weights } = precompute(width, outWidth, filter);
  if (channels === 3) {
    // The common case, unrolled: three running sums per output pixel.
    for (let y = 0; y < rows; y++) {
      const rowBase = (rowStart + y) * width * 3;
      let d = y * cols * 3;
      for (let x = 0; x < cols; x++) {
        const o = colStart + x;
        const count = bounds[o * 2 + 1];
        const kBase = o * ksize;
        let s = rowBase + bounds[o * 2] * 3;
        // Int32 arithmetic throughout: |sum| < 255 * 1.3 * 2^22 < 2^31, so `| 0` never wraps and V8 stays in int32.
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let i = 0; i < count; i++, s += 3) {
          const w = weights[kBase + i];
          r = (r + Math.imul(src[s], w)) | 0;
          g = (g + Math.imul(src[s + 1], w)) | 0;
          b = (b + Math.imul(src[s + 2], w)) | 0;
        }
        out[d++] = clip8(r);
        out[d++] = clip8(g);
        out[d++] = clip8(b);
      }
    }
    return out;
  }
  for (let y = 0; y < rows; y++) {
    const rowBase = (rowStart + y) * width;
    for (let x = 0; x < cols; x++) {
      const o = colStart + x;
      const min = bounds[o * 2];
      const count = bounds[o * 2 + 1];
      const kBase = o * ksize;
      const d = (y * cols + x) * channels;
      for (let c = 0; c < channels; c++) {
        let sum = HALF;
        for (let i = 0; i < count; i++) sum += src[(rowBase + min + i) * channels + c] * weights[kBase + i];
        out[d + c] = clip8(sum);
      }
    }
  }
  return out;
}

/** Vertical pass over a rowsIn x width image whose first row is input row rowOffset of an inHeight-tall image. */
function verticalPass(
  src: Uint8Array, width: number, channels: number, inHeight: number, rowOffset: number, outHeight: number, rowStart: number, rows: number, filter: Filter,
): Uint8Array {
  const out = new Uint8Array(width * rows * channels);
  const { ksize, bounds, weights } = precompute(inHeight, outHeight, filter);
  const stride = width * channels;
  // Row-at-a-time accumulation keeps memory access sequential; int32 sums as in the horizontal pass.
  const acc = new Int32Array(stride);
  for (let y = 0; y < rows; y++) {
    const o = rowStart + y;
    const min = bounds[o * 2] - rowOffset;
    const count = bounds[o * 2 + 1];
    const kBase = o * ksize;
    acc.fill(HALF);
    for (let i = 0; i < count; i++) {
      const w = weights[kBase + i];
      const base = (min + i) * stride;
      for (let j = 0; j < stride; j++) acc[j] = (acc[j] + Math.imul(src[base + j], w)) | 0;
    }
    const d = y * stride;
    for (let j = 0; j < stride; j++) out[d + j] = clip8(acc[j]);
  }
  return out;
}

/** A rectangle of the output, in output pixels. */
export interface PixelRegion {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

function resizeNearest(src: Uint8Array, width: number, height: number, channels: number, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH * channels);
  const sx = width / outW;
  const sy = height / outH;
  for (let y = 0; y < outH; y++) {
    const iy = Math.min(Math.floor((y + 0.5) * sy), height - 1);
    for (let x = 0; x < outW; x++) {
      const ix = Math.min(Math.floor((x + 0.5) * sx), width - 1);
      const s = (iy * width + ix) * channels;
      const d = (y * outW + x) * channels;
      for (let c = 0; c < channels; c++) out[d + c] = src[s + c];
    }
  }
  return out;
}

/**
 * Resizes interleaved 8-bit pixels ([height, width, channels]) as `PIL.Image.resize(size, filter)` does.
 * With `region`, only that part of the output is computed (each output pixel depends on its own weights
 * only, so a resize-then-crop costs the crop, not the whole resize, and stays exact).
 * @returns [region.height, region.width, channels] pixels (the whole output when no region is given).
 */
export function resizePixels(
  src: Uint8Array, width: number, height: number, channels: number, outWidth: number, outHeight: number, filter: ResampleFilter,
  region: PixelRegion = { left: 0, top: 0, width: outWidth, height: outHeight },
): Uint8Array {
  if (!Number.isInteger(outWidth) || !Number.isInteger(outHeight) || outWidth < 1 || outHeight < 1) {
    throw new MoxingError('BAD_ARGUMENT', `cannot resize to ${outWidth}x${outHeight}: sizes must be whole numbers >= 1`);
  }
  const { left, top } = region;
  if (left < 0 || top < 0 || left + region.width > outWidth || top + region.height > outHeight) {
    throw new MoxingError('BAD_ARGUMENT', `region ${JSON.stringify(region)} lies outside the ${outWidth}x${outHeight} output`);
  }
  if (filter === 'nearest') {
    const full = resizeNearest(src, width, height, channels, outWidth, outHeight);
    return cropPixels(full, outWidth, channels, region);
  }
  const f = FILTERS[filter];
  // Input rows the vertical pass will read (all rows when there is no vertical pass).
  let rowStart = 0;
  let rows = height;
  if (outHeight !== height) {
    const { bounds } = precompute(height, outHeight, f);
    rowStart = bounds[top * 2];
    const last = top + region.height - 1;
    rows = bounds[last * 2] + bounds[last * 2 + 1] - rowStart;
  } else {
    rowStart = top;
    rows = region.height;
  }
  let pixels: Uint8Array;
  if (outWidth !== width) {
    pixels = horizontalPass(src, width, channels, rowStart, rows, outWidth, left, region.width, f);
  } else {
    pixels = cropPixels(src, width, channels, { left, top: rowStart, width: region.width, height: rows });
  }
  if (outHeight !== height) pixels = verticalPass(pixels, region.width, channels, height, rowStart, outHeight, top, region.height, f);
  return pixels;
}

function cropPixels(src: Uint8Array, width: number, channels: number, region: PixelRegion): Uint8Array {
  const out = new Uint8Array(region.width * region.height * channels);
  const rowBytes = region.width * channels;
  for (let y = 0; y < region.height; y++) {
    const s = ((region.top + y) * width + region.left) * channels;
    out.set(src.subarray(s, s + rowBytes), y * rowBytes);
  }
  return out;
}
