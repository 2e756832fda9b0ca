/**
 * The images of a conversation: `image_url` content parts as data URLs, decoded within limits (count, bytes,
 * pixels) before any model work. Remote (http) URLs are never fetched here.
 */
import { MoxingError } from '../errors.js';
import { checkImagePixels, loadImage, type RgbImage } from '../vision/image.js';
import type { ChatMessage } from './chat.js';

export interface ImageLimits {
  /** Images per request. @default 8 */
  maxImages: number;
  /** Bytes of one encoded image. @default 20_000_000 */
  maxImageBytes: number;
  /** Pixels of one decoded image (width × height), checked from the header before decoding. @default 40_000_000 */
  maxImagePixels: number;
}

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({ maxImages: 8, maxImageBytes: 20_000_000, maxImagePixels: 40_000_000 });

/** The image URLs of the messages, in order. */
export function imageUrls(messages: readonly ChatMessage[]): string[] {
  const urls: string[] = [];
  for (const m of messages) {
    if (Array.isArray(m.content)) for (const part of m.content) if (part.type === 'image_url') urls.push(part.image_url.url);
  }
  return urls;
}

/** The bytes of a `data:[<type>][;base64],<data>` URL. */
export function dataUrlBytes(url: string, maxBytes: number): Uint8Array {
  if (/^https?:/i.test(url)) throw new MoxingError('BAD_ARGUMENT', 'remote image URLs are not fetched; send the image as a data: URL (data:image/png;base64,...)');
  const match = /^data:([^,]*),/i.exec(url);
  if (!match) throw new MoxingError('BAD_ARGUMENT', 'an image URL must be a data: URL (data:image/png;base64,...)');
  const payload = url.slice(match[0].length);
  const base64 = /;base64$/i.test(match[1]);
  // Base64 is 4 characters per 3 bytes: refuse before decoding what would be too large.
  const estimate = base64 ? Math.floor((payload.length * 3) / 4) : payload.length;
  if (estimate > maxBytes) throw new MoxingError('PAYLOAD_TOO_LARGE', `an image is about ${estimate} bytes, more than the ${maxBytes}-byte limit; send a smaller image`);
  if (base64 && !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new MoxingError('IMAGE_INVALID', 'an image data: URL is not valid base64');
  const bytes = base64 ? Buffer.from(payload, 'base64') : percentDecoded(payload);
  if (bytes.byteLength === 0) throw new MoxingError('FILE_EMPTY', 'an image data: URL holds no bytes');
  return bytes;
}

/** Decodes the images of the messages to RGB, within `limits`. */
export async function decodeImages(messages: readonly ChatMessage[], limits: Readonly<ImageLimits> = DEFAULT_IMAGE_LIMITS): Promise<RgbImage[]> {
  const urls = imageUrls(messages);
  if (urls.length > limits.maxImages) throw new MoxingError('BAD_ARGUMENT', `the conversation holds ${urls.length} images; at most ${limits.maxImages} are allowed per request`);
  const images: RgbImage[] = [];
  for (const [i, url] of urls.entries()) {
    const bytes = dataUrlBytes(url, limits.maxImageBytes);
    await checkImagePixels(bytes, limits.maxImagePixels, `image ${i + 1}`);
    images.push(await loadImage(bytes));
  }
  return images;
}

function percentDecoded(payload: string): Buffer {
  try {
    return Buffer.from(decodeURIComponent(payload), 'latin1');
  } catch (cause) {
    throw new MoxingError('IMAGE_INVALID', 'an image data: URL has a broken %-escape; send it base64-encoded', { cause });
  }
}
