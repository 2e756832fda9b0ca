/**
 * Image loading: every supported file type becomes 8-bit interleaved RGB, the form Hugging Face image
 * processors start from (PIL `convert("RGB")`). sharp decodes; EXIF orientation is applied; alpha is dropped
 * without compositing (as PIL's RGBA -> RGB does); grayscale is replicated to three channels.
 */
import { readFile, stat } from 'node:fs/promises';
import type Sharp from 'sharp';
import { MoxingError } from '../errors.js';

/** An 8-bit RGB picture, row-major, 3 bytes per pixel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** [height, width, 3] interleaved RGB. */
  readonly data: Uint8Array;
}

/** A path, or the bytes of an encoded image. */
export type ImageInput = string | Uint8Array;

let sharpLoaded: Promise<typeof Sharp> | undefined;

/**
 * sharp, loaded on first use: it maps libvips (about 25 MB of resident memory), which a process that never reads an
 * image (a text chat, a transcription) need not hold.
 */
export function loadSharp(): Promise<typeof Sharp> {
  sharpLoaded ??= import('sharp').then((m) => m.default);
  return sharpLoaded;
}

/** sharp's names for the formats we accept (AVIF is reported as 'heif'). */
export const SUPPORTED_IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'heif', 'tiff'] as const;

/** File extensions that `listImages` picks up, lower case. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  '.jpg', '.jpeg', '.jpe', '.png', '.webp', '.gif', '.avif', '.heic', '.heif', '.tif', '.tiff',
]);

/** Reads a file for decoding, with the errors a user can act on (missing, a folder, empty). */
export async function readImageFile(path: string): Promise<Buffer> {
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new MoxingError('FILE_NOT_FOUND', `image not found: ${path}. Check the path.`, { cause });
  }
  if (info.isDirectory()) {
    throw new MoxingError('BAD_ARGUMENT', `${path} is a folder, not an image file. Pass image files, or use \`moxing index\` for folders.`);
  }
  if (info.size === 0) throw new MoxingError('FILE_EMPTY', `image file is empty (0 bytes): ${path}. Re-export or re-download it.`);
  return readFile(path);
}

/**
 * Throws PAYLOAD_TOO_LARGE when the encoded image declares more than `maxPixels` pixels. Reads the header
 * only, so a small file that would decode to gigabytes (a pixel bomb) is refused before any decoding.
 */
export async function checkImagePixels(bytes: Uint8Array, maxPixels: number, name: string): Promise<void> {
  let width: number | undefined;
  let height: number | undefined;
  const sharp = await loadSharp();
  try {
    ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (cause) {
    throw unreadable(name, cause);
  }
  if (width !== undefined && height !== undefined && width * height > maxPixels) {
    throw new MoxingError('PAYLOAD_TOO_LARGE', `${name} is ${width}x${height} pixels, more than the ${maxPixels}-pixel limit; send a smaller image`);
  }
}

/** Decodes a file or buffer into 8-bit RGB. Animated GIF/WebP give their first frame. */
export async function loadImage(input: ImageInput): Promise<RgbImage> {
  const name = typeof input === 'string' ? input : 'image buffer';
  const bytes = typeof input === 'string' ? await readImageFile(input) : input;
  if (bytes.byteLength === 0) throw new MoxingError('FILE_EMPTY', `${name} is empty (0 bytes): send the image's bytes.`);
  return decodeImage(bytes, name);
}

async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbImage> {
  let format: string | undefined;
  const sharp = await loadSharp();
  try {
    format = (await sharp(bytes).metadata()).format;
  } catch (cause) {
    throw unreadable(name, cause);
  }
  if (!format || !(SUPPORTED_IMAGE_FORMATS as readonly string[]).includes(format)) {
    throw new MoxingError('IMAGE_INVALID', `${name} is of an unsupported type (${format ?? 'unknown'}). Convert it to one of: ${formatList()}.`);
  }
  try {
    // failOn 'error' rejects truncated files instead of returning grey padding.
    const { data, info } = await sharp(bytes, { failOn: 'error', pages: 1 })
      .rotate()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: toRgb(data, info.width * info.height, info.channels) };
  } catch (cause) {
    throw new MoxingError('IMAGE_INVALID', `${name} could not be decoded (${firstLine(cause)}); the file may be corrupt or truncated.`, { cause });
  }
}

function unreadable(name: string, cause: unknown): MoxingError {
  return new MoxingError('IMAGE_INVALID', `${name} is not a readable image (${firstLine(cause)}). Supported types: ${formatList()}.`, { cause });
}

/** Keeps the first three channels (drops alpha) or replicates a single gray channel. */
function toRgb(data: Uint8Array, pixels: number, channels: number): Uint8Array {
  if (channels === 3) return new Uint8Array(data.buffer, data.byteOffset, pixels * 3);
  const out = new Uint8Array(pixels * 3);
  const gray = channels < 3;
  for (let i = 0; i < pixels; i++) {
    const s = i * channels;
    out[i * 3] = data[s];
    out[i * 3 + 1] = gray ? data[s] : data[s + 1];
    out[i * 3 + 2] = gray ? data[s] : data[s + 2];
  }
  return out;
}

/** Encodes RGB pixels as PNG. */
export async function encodePng(image: RgbImage): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

function formatList(): string {
  return 'JPEG, PNG, WebP, GIF, AVIF, TIFF';
}

function firstLine(cause: unknown): string {
  return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0].trim();
}
