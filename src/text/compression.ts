/**
 * openai/whisper's compression_ratio: UTF-8 length over zlib-compressed length, the repetition test of
 * temperature fallback (a ratio above 2.4 means the decode is looping).
 */
import { deflateSync } from 'node:zlib';
import { zlibCompressedLength } from './zlib-size.js';

const UTF8 = new TextEncoder();

/**
 * `len(text.encode()) / len(zlib.compress(text.encode()))`, with the compressed size of stock zlib at
 * level 6 (what CPython links), not of Node's bundled zlib, which differs on most texts. Texts too long for
 * one deflate block (16383 bytes and more, far beyond a 30 s window's text) use Node's zlib.
 */
export function compressionRatio(text: string): number {
  const bytes = UTF8.encode(text);
  const compressed = zlibCompressedLength(bytes) ?? deflateSync(bytes).length;
  return bytes.length / compressed;
}
