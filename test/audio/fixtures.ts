/** Paths of the shared fixtures the audio tests read, and small helpers to read them. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
export const MEL_REFERENCE = `${SHARED}whisper/mel-reference/`;
export const MEL_FILTERS = `${SHARED}whisper/mel-filters/`;
export const JFK_WAV = `${MEL_REFERENCE}jfk.wav`;

/** A raw little-endian float32 file (the shared fixtures' array format). */
export function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
