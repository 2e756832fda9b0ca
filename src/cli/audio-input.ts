/**
 * `--allow-truncated`, shared by the commands that read audio (transcribe, align, vad): the flag, and the
 * decode options it stands for, with the one warning line per truncated file on stderr.
 */
import type { TruncationOptions } from '../audio/index.js';

export interface AudioInputCliOptions {
  allowTruncated?: boolean;
}

/** [flags, description] for `.option(...)`. */
export const ALLOW_TRUNCATED_FLAG = [
  '--allow-truncated',
  'decode what a truncated or damaged audio file holds (one warning line on stderr) instead of failing',
] as const;

/** The decode options of the flag for `file`; `warn: false` for a second read of a file already reported. */
export function audioInput(file: string, options: AudioInputCliOptions, warn = true): TruncationOptions {
  const allowTruncated = options.allowTruncated ?? false;
  if (!allowTruncated || !warn) return { allowTruncated };
  return { allowTruncated, onTruncated: (reason) => process.stderr.write(`moxing: warning: ${file} is truncated: ${reason}\n`) };
}
