/**
 * The batched pipeline's flags of `moxing transcribe` (--vad, --batch-size and the VAD's thresholds), turned
 * into the library's `vad` / `batchSize` options.
 */
import { DEFAULT_BATCHED, type BatchedOptions } from '../asr/whisper/index.js';
import { DEFAULT_VAD, type VadOptions } from '../audio/index.js';
import { MoxingError } from '../errors.js';
import { parseInteger, parseNumber } from './options.js';

export interface BatchedCliOptions {
  vad?: boolean;
  batchSize?: number;
  vadThreshold?: number;
  minSpeechMs?: number;
  minSilenceMs?: number;
  speechPadMs?: number;
}

/** [flags, description, parser] of each option, for `.option(...)`. */
export const BATCHED_FLAGS = [
  ['--vad', `batched pipeline: Silero VAD finds speech, windows of <= 30 s decoded --batch-size at a time (no timestamps within a window)`],
  ['--batch-size <n>', `windows per batch; turns the batched pipeline on, with VAD (default with --vad: ${DEFAULT_BATCHED.batchSize})`, parseInteger('--batch-size', 1, 256)],
  ['--vad-threshold <p>', `with --vad: speech probability threshold (default: ${DEFAULT_VAD.threshold})`, parseNumber('--vad-threshold', 0, 1)],
  ['--min-speech-ms <ms>', `with --vad: shortest speech kept (default: ${DEFAULT_VAD.minSpeechMs})`, parseNumber('--min-speech-ms', 0)],
  ['--min-silence-ms <ms>', `with --vad: silence that ends a speech region (default: ${DEFAULT_VAD.minSilenceMs})`, parseNumber('--min-silence-ms', 0)],
  ['--speech-pad-ms <ms>', `with --vad: padding around each speech region (default: ${DEFAULT_VAD.speechPadMs})`, parseNumber('--speech-pad-ms', 0)],
] as const;

/** The library options of the flags; empty (sequential openai loop) when neither --vad nor --batch-size is given. */
export function batchedFromCli(o: BatchedCliOptions): BatchedOptions {
  if (!o.vad && o.batchSize === undefined) {
    // The VAD flags would otherwise be ignored without a word.
    const stray = BATCHED_FLAGS.slice(2).filter((_, i) => [o.vadThreshold, o.minSpeechMs, o.minSilenceMs, o.speechPadMs][i] !== undefined);
    if (stray.length > 0) throw new MoxingError('BAD_ARGUMENT', `${stray.map(([flags]) => flags.split(' ')[0]).join(', ')} tune the batched pipeline's VAD: add --vad (or --batch-size)`);
    return {};
  }
  const vad: Partial<VadOptions> = { threshold: o.vadThreshold, minSpeechMs: o.minSpeechMs, minSilenceMs: o.minSilenceMs, speechPadMs: o.speechPadMs };
  return { vad, batchSize: o.batchSize ?? DEFAULT_BATCHED.batchSize };
}
