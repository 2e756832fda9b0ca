/** Parsers for CLI option values that fail with a message naming the option and the bad value. */
import { MoxingError } from '../errors.js';
import { OUTPUT_FORMATS, resolveOutputFormats, type OutputFormat } from '../formats/index.js';

export function parseInteger(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new MoxingError('BAD_ARGUMENT', `${name} must be a whole number from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

export function parseNumber(name: string, min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new MoxingError('BAD_ARGUMENT', `${name} must be a number from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

export function parseChoice<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new MoxingError('BAD_ARGUMENT', `${name} must be one of ${choices.join(', ')}, got "${value}"`);
    }
    return value as T;
  };
}

/** `-f/--output-format`: one format, a comma-separated list (json,srt) or all. */
export function parseOutputFormats(value: string): OutputFormat[] {
  try {
    return resolveOutputFormats(value.split(',').map((f) => f.trim()));
  } catch (error) {
    throw new MoxingError('BAD_ARGUMENT', `--output-format: ${(error as Error).message}`);
  }
}

export const OUTPUT_FORMAT_HELP = `${[...OUTPUT_FORMATS, 'all'].join(', ')}, or a comma-separated list (json,srt)`;
