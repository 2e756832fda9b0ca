/**
 * What to do with a truncated input (a file that ends before the length its header declares, or that ffmpeg
 * reports decoding errors on): fail with AUDIO_TRUNCATED by default, since a transcript of part of a file
 * looks like a transcript of all of it; with `allowTruncated`, tell `onTruncated` and decode what is there.
 */
import { MoxingError } from '../errors.js';

export interface TruncationOptions {
  /**
   * Decode what a truncated or damaged input holds instead of failing with AUDIO_TRUNCATED; `onTruncated` hears why.
   * @default false
   */
  readonly allowTruncated?: boolean;
  /** Called once for an input that `allowTruncated` lets through, with why it counts as truncated (one line). */
  readonly onTruncated?: (reason: string) => void;
}

export const DEFAULT_TRUNCATION: Readonly<{ allowTruncated: boolean }> = Object.freeze({ allowTruncated: false });

/**
 * Reports that `name` is truncated because of `reason`: throws AUDIO_TRUNCATED, or with `allowTruncated` calls
 * `onTruncated` and returns. Where nothing usable is left, `usable` false throws either way.
 */
export function truncation(name: string, reason: string, options: TruncationOptions, usable = true): void {
  if (usable && (options.allowTruncated ?? DEFAULT_TRUNCATION.allowTruncated)) {
    options.onTruncated?.(reason);
    return;
  }
  const fix = usable ? 'Re-copy or re-export the file, or pass --allow-truncated (allowTruncated: true) to use what is there.' : 'Re-copy or re-export the file.';
  throw new MoxingError('AUDIO_TRUNCATED', `${name} is truncated: ${reason}. ${fix}`);
}
