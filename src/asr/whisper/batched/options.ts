/**
 * Options of the batched long-form pipeline (batched.ts): speech detection and the batch size. Either one
 * turns the pipeline on; `vad` defaults to on inside it, as in faster-whisper's and WhisperX's batched modes.
 */
import { MoxingError } from '../../../errors.js';
import { resolveVadOptions, type VadOptions } from '../../../audio/index.js';
import type { TranscribeOptions } from '../transcribe-options.js';

export interface BatchedOptions {
  /**
   * Silero VAD before decoding: true for DEFAULT_VAD, or some of its options; false cuts plain consecutive 30 s
   * windows. Giving it (true or options) turns the batched pipeline on. @default true when batchSize is given
   */
  readonly vad?: boolean | Partial<VadOptions>;
  /** Windows encoded and decoded together. Giving it turns the batched pipeline on. @default 8 when vad is given */
  readonly batchSize?: number;
  /**
   * Windows per encoder run (at most batchSize). On CPU one at a time is fastest: a batch of 8 base-sized
   * windows was slower per window and peaked above 2.7 GB (attention maps of [8, heads, 1500, 1500]); the
   * decoder is where batching pays (one step for 8 rows costs ~2x one row, not 8x). @default 1
   */
  readonly encoderBatchSize?: number;
}

export const DEFAULT_BATCHED = Object.freeze({ batchSize: 8, vad: true, encoderBatchSize: 1 });

/** The batched pipeline's settings, or undefined when the options ask for the sequential one. */
export interface BatchedSettings {
  readonly batchSize: number;
  readonly encoderBatchSize: number;
  /** Resolved VAD options; null for plain 30 s windows. */
  readonly vad: Required<VadOptions> | null;
}

/** Undefined (sequential openai loop) unless `vad` is truthy or `batchSize` is given. */
export function resolveBatchedOptions(options: BatchedOptions): BatchedSettings | undefined {
  const vadGiven = options.vad !== undefined && options.vad !== false;
  if (!vadGiven && options.batchSize === undefined) return undefined;
  const batchSize = options.batchSize ?? DEFAULT_BATCHED.batchSize;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 256)) {
    throw new MoxingError('BAD_ARGUMENT', `batchSize must be a whole number from 1 to 256, got ${batchSize}`);
  }
  const encoderBatchSize = Math.min(options.encoderBatchSize ?? DEFAULT_BATCHED.encoderBatchSize, batchSize);
  if (!(Number.isInteger(encoderBatchSize) && encoderBatchSize >= 1)) {
    throw new MoxingError('BAD_ARGUMENT', `encoderBatchSize must be a whole number >= 1, got ${options.encoderBatchSize}`);
  }
  const vad = options.vad ?? DEFAULT_BATCHED.vad;
  return Object.freeze({ batchSize, encoderBatchSize, vad: vad === false ? null : resolveVadOptions(vad === true ? {} : vad) });
}

/**
 * The options of the sequential loop that independent VAD windows cannot follow, refused rather than
 * ignored. `carryInitialPrompt` needs no check: every window is prompted with `initialPrompt` alone (no window
 * has previous text to push it out), which is what carrying it asks.
 */
export function rejectSequentialOnly(options: TranscribeOptions): void {
  const drop = 'or drop vad/batchSize (--vad, --batch-size) for the sequential pipeline';
  if (options.wordTimestamps) {
    throw new MoxingError('BAD_ARGUMENT', 'word timestamps need the sequential pipeline: drop vad/batchSize (--vad, --batch-size), or align the batched result with a CTC model (--align)');
  }
  // Windows are decoded at once, as in faster-whisper's batched pipeline: none sees another's text.
  if (options.conditionOnPreviousText === true) {
    throw new MoxingError('BAD_ARGUMENT', `conditionOnPreviousText: true cannot apply to batched (VAD) windows, which are decoded together and never see each other's text; set it to false or leave it out, ${drop}`);
  }
  if (options.resumeFrom !== undefined) throw new MoxingError('BAD_ARGUMENT', `resumeFrom continues the sequential loop's windows; ${drop}`);
  // The batched windows are where the VAD finds speech; openai's seek clips belong to the sequential loop.
  const clips = options.clipTimestamps;
  if (clips !== undefined && !(clips === '0' || (Array.isArray(clips) && clips.length === 1 && clips[0] === 0))) {
    throw new MoxingError('BAD_ARGUMENT', `clipTimestamps cannot apply to batched (VAD) windows, which cover the speech the VAD finds; leave it out (or cut the audio first), ${drop}`);
  }
}
