/** Reading and writing the big numbers of transformer math: 1T tokens, 2.5e12, 80GB, 1.2 ms. */
import { MoxingError } from '../errors.js';

const COUNT_SUFFIX: Readonly<Record<string, number>> = Object.freeze({ '': 1, k: 1e3, m: 1e6, b: 1e9, g: 1e9, t: 1e12, p: 1e15 });
const BYTE_SUFFIX: Readonly<Record<string, number>> = Object.freeze({
  '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
});
const NUMBER = /^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)$/;

function parseScaled(text: string, what: string, suffixes: Readonly<Record<string, number>>, example: string): number {
  const cleaned = text.trim().toLowerCase().replace(/[_,]/g, '');
  const match = NUMBER.exec(cleaned);
  const scale = match ? suffixes[match[2]] : undefined;
  const value = match && scale !== undefined ? Number(match[1]) * scale : Number.NaN;
  if (!Number.isFinite(value)) {
    throw new MoxingError('BAD_ARGUMENT', `${what} must be a positive number such as ${example}, got "${text}"`);
  }
  return value;
}

/** Parses counts like `1T`, `300B`, `2.5e12`, `7b`, `1,000,000`. Suffixes: k, M, B (or G), T, P. */
export function parseCount(text: string, what = 'count'): number {
  return parseScaled(text, what, COUNT_SUFFIX, '1T, 300B or 2.5e12');
}

/** Parses sizes like `80GB` (decimal), `24GiB` (binary) or a plain byte count. */
export function parseBytes(text: string, what = 'size'): number {
  return parseScaled(text, what, BYTE_SUFFIX, '80GB or 24GiB');
}

function trim(value: number, digits: number): string {
  return Number(value.toPrecision(digits)).toString();
}

/** 6738415616 → "6.74B". */
export function formatCount(value: number, digits = 3): string {
  const abs = Math.abs(value);
  for (const [suffix, scale] of [['P', 1e15], ['T', 1e12], ['B', 1e9], ['M', 1e6], ['k', 1e3]] as const) {
    if (abs >= scale) return `${trim(value / scale, digits)}${suffix}`;
  }
  return trim(value, digits);
}

/** Bytes in decimal units: 13476831232 → "13.5 GB". */
export function formatBytes(bytes: number, digits = 3): string {
  const abs = Math.abs(bytes);
  for (const [suffix, scale] of [['PB', 1e15], ['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) {
    if (abs >= scale) return `${trim(bytes / scale, digits)} ${suffix}`;
  }
  return `${trim(bytes, digits)} B`;
}

/** Seconds at a readable scale: 0.0693 → "69.3 ms", 86400 * 3 → "3 days". */
export function formatSeconds(seconds: number, digits = 3): string {
  const abs = Math.abs(seconds);
  if (abs >= 86400 * 365) return `${trim(seconds / (86400 * 365), digits)} years`;
  if (abs >= 86400) return `${trim(seconds / 86400, digits)} days`;
  if (abs >= 3600) return `${trim(seconds / 3600, digits)} h`;
  if (abs >= 60) return `${trim(seconds / 60, digits)} min`;
  if (abs >= 1) return `${trim(seconds, digits)} s`;
  if (abs >= 1e-3) return `${trim(seconds * 1e3, digits)} ms`;
  return `${trim(seconds * 1e6, digits)} µs`;
}

/** Throws BAD_ARGUMENT unless `value` is finite, within [min, max] and (by default) whole. */
export function checkRange(name: string, value: number, min: number, max: number, integer = true): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new MoxingError('BAD_ARGUMENT', `${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${value}`);
  }
}
