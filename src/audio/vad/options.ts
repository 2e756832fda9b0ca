/**
 * Options of speech detection, faster-whisper's `VadOptions` with units in the names. The defaults are the ones
 * the Whisper pipelines use: silero's threshold and minimum speech, faster-whisper's 2 s of silence and 400 ms
 * of padding, and regions capped at Whisper's 30 s window.
 */
import { MoxingError } from '../../errors.js';

export interface VadOptions {
  /** Speech probability at or above which a frame counts as speech. @default 0.5 */
  readonly threshold: number;
  /**
   * Probability below which a frame always counts as silence; frames between the two thresholds continue the
   * current state (hysteresis). @default threshold - 0.15, at least 0.01
   */
  readonly negThreshold?: number;
  /** Regions shorter than this are dropped. @default 250 (milliseconds) */
  readonly minSpeechMs: number;
  /**
   * Regions longer than this are split at the last silence of more than 98 ms, or cut just before the limit
   * when there is none. @default 30 (seconds: one Whisper window)
   */
  readonly maxSpeechS: number;
  /** Silence needed to end a region. @default 2000 (milliseconds) */
  readonly minSilenceMs: number;
  /** Padding added on both sides of each region (halved between close neighbours). @default 400 (milliseconds) */
  readonly speechPadMs: number;
}

export const DEFAULT_VAD: Readonly<VadOptions> = Object.freeze({
  threshold: 0.5,
  minSpeechMs: 250,
  maxSpeechS: 30,
  minSilenceMs: 2000,
  speechPadMs: 400,
});

/** Merges `options` over DEFAULT_VAD and checks every value. */
export function resolveVadOptions(options: Partial<VadOptions> = {}): Required<VadOptions> {
  const merged = { ...DEFAULT_VAD, ...definedOnly(options) };
  const negThreshold = merged.negThreshold ?? Math.max(merged.threshold - 0.15, 0.01);
  check('threshold', merged.threshold, 0, 1);
  check('negThreshold', negThreshold, 0, 1);
  check('minSpeechMs', merged.minSpeechMs, 0, Number.POSITIVE_INFINITY);
  check('maxSpeechS', merged.maxSpeechS, 0.1, Number.POSITIVE_INFINITY);
  check('minSilenceMs', merged.minSilenceMs, 0, Number.POSITIVE_INFINITY);
  check('speechPadMs', merged.speechPadMs, 0, Number.POSITIVE_INFINITY);
  return { ...merged, negThreshold };
}

function check(name: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new MoxingError('BAD_ARGUMENT', `VAD option ${name} must be a number from ${min} to ${max}, got ${value}`);
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
