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

type Units = readonly (readonly [suffix: string, scale: number])[];

/**
 * `value` in the largest unit it reaches once rounded to `digits`: choosing on the rounded mantissa is what
 * makes 999_999 "1M" rather than "1000k" (and 59.99 s "1 min" rather than "60 s"). `units` ascend by scale;
 * values below the first unit are written in it.
 */
function formatScaled(value: number, digits: number, units: Units, separator: string): string {
  const round = (x: number): number => Number(x.toPrecision(digits));
  let unit = 0;
  units.forEach(([, scale], i) => {
    if (Math.abs(round(value / scale)) >= 1) unit = i;
  });
  let mantissa = round(value / units[unit][1]);
  // A tie can round up here yet down in the next unit (995 at two digits: "1.0e3", but 0.995 is stored as
  // 0.99499…): carry it. Unit ratios are whole (1000, 60, 24, 365); Math.round drops the float noise of 1e-3 / 1e-6.
  const factor = unit + 1 < units.length ? Math.round(units[unit + 1][1] / units[unit][1]) : Infinity;
  if (Math.abs(mantissa) >= factor) {
    mantissa = round(mantissa / factor);
    unit++;
  }
  const suffix = units[unit][0];
  return `${mantissa.toString()}${suffix === '' ? '' : separator}${suffix}`;
}

const COUNT_UNITS: Units = [['', 1], ['k', 1e3], ['M', 1e6], ['B', 1e9], ['T', 1e12], ['P', 1e15]];
const BYTE_UNITS: Units = [['B', 1], ['kB', 1e3], ['MB', 1e6], ['GB', 1e9], ['TB', 1e12], ['PB', 1e15]];
const SECOND_UNITS: Units = [['µs', 1e-6], ['ms', 1e-3], ['s', 1], ['min', 60], ['h', 3600], ['days', 86400], ['years', 86400 * 365]];

/** 6738415616 → "6.74B"; 999_999 → "1M". */
export function formatCount(value: number, digits = 3): string {
  return formatScaled(value, digits, COUNT_UNITS, '');
}

/** Bytes in decimal units: 13476831232 → "13.5 GB". */
export function formatBytes(bytes: number, digits = 3): string {
  return formatScaled(bytes, digits, BYTE_UNITS, ' ');
}

/** Seconds at a readable scale: 0.0693 → "69.3 ms", 86400 * 3 → "3 days". */
export function formatSeconds(seconds: number, digits = 3): string {
  return formatScaled(seconds, digits, SECOND_UNITS, ' ');
}

/** Throws BAD_ARGUMENT unless `value` is finite, within [min, max] and (by default) whole. */
export function checkRange(name: string, value: number, min: number, max: number, integer = true): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new MoxingError('BAD_ARGUMENT', `${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${value}`);
  }
}
