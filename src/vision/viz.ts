/**
 * The two famous pictures of self-supervised ViTs:
 *
 * - PCA (DINOv2 paper, Fig. 1): a first PCA of the patch features separates foreground from background by a
 *   threshold on the first component; a second PCA on the foreground patches maps its first 3 components to
 *   RGB. The grid is upsampled to the image's size and shown beside the original.
 * - Attention (DINO's visualize_attention.py): the last layer's attention of the CLS token to each patch, per
 *   head, with DINO's mass threshold (keep the most attended patches holding `massThreshold` of the mass).
 */
import sharp from 'sharp';
import { MoxingError } from '../errors.js';
import { patchFeatures, preprocessDenseFor, type DenseOptions } from './features.js';
import type { RgbImage } from './image.js';
import type { VisionModel } from './model.js';
import { pca } from './pca.js';
import { resizePixels } from './resample.js';

export interface PcaPictureOptions extends DenseOptions {
  /** Threshold on the first component, scaled to [0, 1], that splits background from foreground. @default 0.35 */
  backgroundThreshold: number;
  /** Black out the background (otherwise the second PCA runs on every patch). @default true */
  removeBackground: boolean;
  /** Longest side of each panel in pixels (the image is scaled down to fit, keeping its aspect ratio). @default 640 */
  maxSidePx: number;
}

export const DEFAULT_PCA_PICTURE: Readonly<PcaPictureOptions> = Object.freeze({ shortEdge: 448, backgroundThreshold: 0.35, removeBackground: true, maxSidePx: 640 });

export interface Picture {
  /** The visualisation panel alone, at the panel size (the input's aspect ratio). */
  readonly panel: RgbImage;
  /** Original and panel(s) side by side, PNG-encoded. */
  readonly png: Buffer;
}

/** The PCA picture of one image. */
export async function pcaPicture(model: VisionModel, image: RgbImage, options: Partial<PcaPictureOptions> = {}): Promise<Picture> {
  const o = { ...DEFAULT_PCA_PICTURE, ...defined(options) };
  const grid = await patchFeatures(model, image, o);
  const cells = grid.gridHeight * grid.gridWidth;
  let foreground: boolean[] = new Array(cells).fill(true);
  if (o.removeBackground) {
    const first = scale01(Array.from(pca(grid.data, grid.dim, 1).projections));
    const above = first.map((v) => v > o.backgroundThreshold);
    // The component's sign is arbitrary: the background is the side that holds more of the border.
    foreground = borderShare(above, grid.gridHeight, grid.gridWidth) > 0.5 ? above.map((a) => !a) : above;
    if (foreground.filter(Boolean).length < 3) foreground = new Array(cells).fill(true);
  }
  const second = pca(grid.data, grid.dim, 3, foreground);
  const rgb = new Uint8Array(cells * 3);
  for (let c = 0; c < 3; c++) {
    const values = [...Array(cells).keys()].map((i) => second.projections[i * 3 + c]);
    const fg = values.filter((_, i) => foreground[i]);
    const lo = Math.min(...fg);
    const span = Math.max(...fg) - lo || 1;
    values.forEach((v, i) => (rgb[i * 3 + c] = foreground[i] ? Math.round((255 * (v - lo)) / span) : 0));
  }
  const size = panelSize(image, o.maxSidePx);
  const panel = { width: size.width, height: size.height, data: resizePixels(rgb, grid.gridWidth, grid.gridHeight, 3, size.width, size.height, 'bilinear') };
  return { panel, png: await sideBySide([scaleTo(image, size), panel]) };
}

export interface AttentionPictureOptions extends DenseOptions {
  /** DINO's threshold: keep the most attended patches that hold this share of the CLS attention. @default 0.6 */
  massThreshold: number;
  /** Longest side of each panel in pixels. @default 480 */
  maxSidePx: number;
}

export const DEFAULT_ATTENTION_PICTURE: Readonly<AttentionPictureOptions> = Object.freeze({ shortEdge: 448, massThreshold: 0.6, maxSidePx: 480 });

/** Per-head CLS attention over the patch grid: [heads][gridHeight * gridWidth], each head summing to its mass on patches. */
export interface AttentionMaps {
  readonly heads: number;
  readonly gridHeight: number;
  readonly gridWidth: number;
  readonly maps: readonly Float32Array[];
  /** DINO's thresholded masks (true: among the patches holding `massThreshold` of the head's attention). */
  readonly masks: readonly boolean[][];
}

/** The last layer's CLS-to-patch attention of each head (register tokens skipped), with DINO's masks. */
export async function attentionMaps(model: VisionModel, image: RgbImage, options: Partial<AttentionPictureOptions> = {}): Promise<AttentionMaps> {
  const o = { ...DEFAULT_ATTENTION_PICTURE, ...defined(options) };
  if (!(o.massThreshold > 0 && o.massThreshold <= 1)) throw new MoxingError('BAD_ARGUMENT', `mass threshold must be in (0, 1], got ${o.massThreshold}`);
  const tokens = await model.run([preprocessDenseFor(model, image, o)], true);
  const { heads, data } = tokens.attentions as { heads: number; data: Float32Array };
  const n = tokens.tokens;
  const first = 1 + tokens.registers;
  const maps: Float32Array[] = [];
  const masks: boolean[][] = [];
  for (let h = 0; h < heads; h++) {
    const row = h * n * n; // batch 0, head h, query 0 (CLS)
    const map = data.slice(row + first, row + n);
    maps.push(map);
    masks.push(massMask(map, o.massThreshold));
  }
  return { heads, gridHeight: tokens.gridHeight, gridWidth: tokens.gridWidth, maps, masks };
}

/** DINO's mask: sort ascending, normalise, and keep the patches past the (1 - mass) point of the cumulative sum. */
export function massMask(map: Float32Array, mass: number): boolean[] {
  const order = [...map.keys()].sort((a, b) => map[a] - map[b]);
  const total = map.reduce((a, b) => a + b, 0) || 1;
  const keep = new Array<boolean>(map.length).fill(false);
  let cumulative = 0;
  for (const i of order) {
    cumulative += map[i] / total;
    keep[i] = cumulative > 1 - mass;
  }
  return keep;
}

/** The attention picture: the original, then each head's attention as a heat overlay with its mask outlined. */
export async function attentionPicture(model: VisionModel, image: RgbImage, options: Partial<AttentionPictureOptions> = {}): Promise<Picture & { maps: AttentionMaps }> {
  const o = { ...DEFAULT_ATTENTION_PICTURE, ...defined(options) };
  const maps = await attentionMaps(model, image, o);
  const size = panelSize(image, o.maxSidePx);
  const base = scaleTo(image, size);
  const panels = maps.maps.map((map, h) => overlay(base, map, maps.masks[h], maps.gridWidth, maps.gridHeight));
  return { panel: panels[0], png: await sideBySide([base, ...panels], 4), maps };
}

function overlay(base: RgbImage, map: Float32Array, mask: boolean[], gridW: number, gridH: number): RgbImage {
  const { width, height } = base;
  const lo = Math.min(...map);
  const span = Math.max(...map) - lo || 1;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const gy = Math.min(gridH - 1, Math.floor((y * gridH) / height));
    for (let x = 0; x < width; x++) {
      const gx = Math.min(gridW - 1, Math.floor((x * gridW) / width));
      const cell = gy * gridW + gx;
      const heat = heatColor((map[cell] - lo) / span);
      const i = (y * width + x) * 3;
      // Outside DINO's mask the picture is dimmed; inside, the heat colour is blended over it.
      const keep = mask[cell] ? 0.45 : 0.25;
      for (let c = 0; c < 3; c++) out[i + c] = Math.round(keep * base.data[i + c] + (mask[cell] ? 0.55 : 0.2) * heat[c]);
    }
  }
  return { width, height, data: out };
}

/** A perceptual dark-blue -> magenta -> yellow ramp (close to matplotlib's inferno) for t in [0, 1]. */
function heatColor(t: number): [number, number, number] {
  const stops: [number, number, number][] = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => stops[i][c] + f * (stops[i + 1][c] - stops[i][c])) as [number, number, number];
}

function panelSize(image: RgbImage, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  return { width: Math.max(1, Math.round(image.width * scale)), height: Math.max(1, Math.round(image.height * scale)) };
}

function scaleTo(image: RgbImage, size: { width: number; height: number }): RgbImage {
  if (size.width === image.width && size.height === image.height) return image;
  return { ...size, data: resizePixels(image.data, image.width, image.height, 3, size.width, size.height, 'bicubic') };
}

/** Panels of equal size in a grid (`columns` per row), 8 px white gutters, as PNG. */
async function sideBySide(panels: readonly RgbImage[], columns = panels.length): Promise<Buffer> {
  const gap = 8;
  const { width, height } = panels[0];
  const cols = Math.min(columns, panels.length);
  const rows = Math.ceil(panels.length / cols);
  const canvas = sharp({ create: { width: cols * width + (cols - 1) * gap, height: rows * height + (rows - 1) * gap, channels: 3, background: '#ffffff' } });
  return canvas
    .composite(panels.map((p, i) => ({ input: Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), raw: { width: p.width, height: p.height, channels: 3 as const }, left: (i % cols) * (width + gap), top: Math.floor(i / cols) * (height + gap) })))
    .png()
    .toBuffer();
}

function scale01(values: number[]): number[] {
  const lo = Math.min(...values);
  const span = Math.max(...values) - lo || 1;
  return values.map((v) => (v - lo) / span);
}

/** Share of border cells where `flags` is true. */
function borderShare(flags: readonly boolean[], h: number, w: number): number {
  let on = 0;
  let all = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (y !== 0 && x !== 0 && y !== h - 1 && x !== w - 1) continue;
      all++;
      if (flags[y * w + x]) on++;
    }
  }
  return on / all;
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
