/** Shared fixtures for the vision tests: generated tiny models and synthetic images in temp folders. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { TINY_DINO, TINY_DINOV2, TINY_DINOV2_REG, writeVitModel } from '../models/vit.js';

export const REFERENCE_DIR = fileURLToPath(new URL('../../../shared/vision/preprocess-reference/', import.meta.url));

export const models = {
  dinov2: (): string => writeVitModel(TINY_DINOV2),
  dinov2Reg: (): string => writeVitModel(TINY_DINOV2_REG),
  dino: (): string => writeVitModel(TINY_DINO),
};

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'moxing-vision-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic picture: a coloured background with a disc, varying with `seed`. */
export async function picture(seed: number, width = 320, height = 240): Promise<ReturnType<typeof sharp>> {
  const hue = (seed * 67) % 360;
  const r = Math.round(128 + 100 * Math.cos((hue * Math.PI) / 180));
  const g = Math.round(128 + 100 * Math.cos(((hue - 120) * Math.PI) / 180));
  const b = Math.round(128 + 100 * Math.cos(((hue + 120) * Math.PI) / 180));
  const radius = Math.round(Math.min(width, height) * (0.15 + 0.05 * (seed % 4)));
  const svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><rect width="100%" height="100%" fill="rgb(${r},${g},${b})"/>` +
    `<circle cx="${Math.round(width * (0.3 + 0.1 * (seed % 5)))}" cy="${Math.round(height / 2)}" r="${radius}" fill="rgb(${255 - r},${255 - g},${255 - b})"/>` +
    `<rect x="${(seed * 13) % Math.max(1, width - 40)}" y="${(seed * 7) % Math.max(1, height - 30)}" width="40" height="30" fill="white"/></svg>`;
  return sharp(Buffer.from(svg));
}

/** Writes `picture(seed)` as a file of the given format. */
export async function writePicture(path: string, seed: number, width = 320, height = 240): Promise<string> {
  const img = await picture(seed, width, height);
  const ext = path.slice(path.lastIndexOf('.') + 1);
  const encoded = ext === 'png' ? img.png() : ext === 'webp' ? img.webp() : ext === 'avif' ? img.avif() : ext === 'tiff' || ext === 'tif' ? img.tiff() : ext === 'gif' ? img.gif() : img.jpeg({ quality: 92 });
  await encoded.toFile(path);
  return path;
}
