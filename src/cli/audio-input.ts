/**
 * What the commands that read audio (transcribe, align, vad) share: `--allow-truncated` and the decode options
 * it stands for, with the one warning line per truncated file on stderr; and `-` for standard input.
 */
import type { TruncationOptions } from '../audio/index.js';
import { MoxingError } from '../errors.js';

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

/** The name `-` stands for standard input, as ffmpeg and sox read it; its outputs are named `stdin.*`. */
export const STDIN = '-';

/** What to decode for a command-line input: the path itself, or the bytes of standard input for `-`. */
export async function readInput(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<string | Uint8Array> {
  if (file !== STDIN) return file;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/** Standard input can be read once: `-` may stand among the inputs one time at most. */
export function checkStdinOnce(files: readonly string[]): void {
  if (files.filter((f) => f === STDIN).length > 1) throw new MoxingError('BAD_ARGUMENT', 'standard input (-) can be read once: give "-" at most one time');
}
