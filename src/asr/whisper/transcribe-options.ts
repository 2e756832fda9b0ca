/**
 * The options of `transcribe()` and `transcribeStream()`, with one frozen defaults object that the CLI and
 * the server read. The defaults are openai/whisper `transcribe()`'s own.
 */
import { bad, checkCounts, checkLengthPenalty, checkTask } from './option-checks.js';
import { DEFAULT_TRUNCATION } from '../../audio/truncation.js';
import { MoxingError } from '../../errors.js';
import { toLanguageCode } from '../../text/index.js';
import type { HubOptions, Variant } from '../../hub/index.js';
import type { RuntimeOptions } from '../../runtime/index.js';
import type { Segment, Task } from '../types.js';
import type { DecodingOptions, DecodingResult } from './decode.js';
import type { WhisperModel } from './model.js';
import { pyRound } from '../../text/python.js';
import { DEFAULT_WORD_TIMING } from './timing.js';
import type { AlignmentHeadsOption } from './word-timestamps.js';
import type { WindowDecoder } from './window-decode.js';

export interface TranscribeProgress {
  /** Seconds of audio processed so far. */
  readonly doneSeconds: number;
  /** Seconds of audio in total. */
  readonly totalSeconds: number;
}

export interface TranscribeOptions {
  /** Model reference (catalogue alias, hub repo id or local folder), or a loaded model. @default 'whisper-base' */
  readonly model?: string | WhisperModel;
  /** Weight variant of the model files. @default 'fp32' */
  readonly variant?: Variant;
  /** Spoken language (code such as "es" or name such as "Spanish"); detected on the first 30 s when undefined. @default undefined */
  readonly language?: string;
  /** "transcribe" (X -> X) or "translate" (X -> English). @default 'transcribe' */
  readonly task?: Task;
  /** Temperature, or the temperatures tried in turn while a window fails the thresholds below. @default [0, 0.2, 0.4, 0.6, 0.8, 1] */
  readonly temperature?: number | readonly number[];
  /** Beams of beam search at temperature 0; greedy when undefined. @default undefined */
  readonly beamSize?: number;
  /** Samples drawn at temperature > 0, the most likely kept. @default undefined (1) */
  readonly bestOf?: number;
  /** Beam search patience. @default undefined (1) */
  readonly patience?: number;
  /** Length penalty alpha in [0, 1]; plain length normalisation when undefined. @default undefined */
  readonly lengthPenalty?: number;
  /** Text given as the previous context of the first window (vocabulary, names, style). @default undefined */
  readonly initialPrompt?: string;
  /** Keep `initialPrompt` at the head of every window's prompt (batched windows always have it: none has previous text). @default false */
  readonly carryInitialPrompt?: boolean;
  /** Feed each window the text decoded so far as its prompt. The batched pipeline refuses true given explicitly (its windows are decoded together). @default true */
  readonly conditionOnPreviousText?: boolean;
  /** A window whose no-speech probability is above this (and whose avg logprob is below logprobThreshold) is skipped as silence; null disables. @default 0.6 */
  readonly noSpeechThreshold?: number | null;
  /** A decode whose average log-probability is below this has failed (next temperature); null disables. @default -1 */
  readonly logprobThreshold?: number | null;
  /** A decode whose gzip compression ratio is above this is repetitive and has failed; null disables. @default 2.4 */
  readonly compressionRatioThreshold?: number | null;
  /** Token ids to suppress, comma-separated or a list; -1 is the non-speech symbol set. @default '-1' */
  readonly suppressTokens?: string | readonly number[];
  /** Forbid a blank start of a window. @default true */
  readonly suppressBlank?: boolean;
  /** Decode text only, one segment per window. @default false */
  readonly withoutTimestamps?: boolean;
  /** Latest first timestamp of a window, in seconds; null lifts it. @default 1 */
  readonly maxInitialTimestamp?: number | null;
  /** Start,end,start,end,... seconds of the clips to transcribe; the last end defaults to the audio's end. Sequential pipeline only (the batched one refuses it). @default '0' */
  readonly clipTimestamps?: string | readonly number[];
  /** Most tokens decoded per window (openai's `sample_len`); half the text context when undefined. @default undefined (224) */
  readonly sampleLen?: number;
  /** Seed of the sampler at temperature > 0; unseeded when undefined. @default undefined */
  readonly seed?: number;
  /** Give every segment its words with times from cross attention (openai `word_timestamps`); needs the timestamped decoder export. @default false */
  readonly wordTimestamps?: boolean;
  /** With wordTimestamps: punctuation merged into the following word. @default "\"'“¿([{-" */
  readonly prependPunctuations?: string;
  /** With wordTimestamps: punctuation merged into the preceding word. @default "\"'.。,，!！?？:：”)]}、" */
  readonly appendPunctuations?: string;
  /** With wordTimestamps: skip silences longer than this many seconds around a likely hallucination; null disables. @default null */
  readonly hallucinationSilenceThreshold?: number | null;
  /** With wordTimestamps: the cross-attention heads to align with: 'config' (generation_config.json's, else 'default'), 'default' (openai's upper-half heads) or [[layer, head], ...]. @default 'config' */
  readonly alignmentHeads?: AlignmentHeadsOption;
  /** Give every segment `tokenLogprobs`: the decoder's log-prob of each of its tokens (OpenAI's `include[]=logprobs`). @default false */
  readonly tokenLogprobs?: boolean;
  /** Transcribe what a truncated or damaged file holds instead of failing with AUDIO_TRUNCATED (DecodeOptions.allowTruncated). @default false */
  readonly allowTruncated?: boolean;
  /** With allowTruncated: called once if the input is truncated, with why (one line). */
  readonly onTruncated?: (reason: string) => void;
  /** ONNX Runtime device and threads. @default DEFAULT_RUNTIME */
  readonly runtime?: RuntimeOptions;
  /** Hub cache, endpoint and offline settings for resolving `model`. @default DEFAULT_HUB and the environment */
  readonly hub?: Partial<HubOptions>;
  /** Called after each window with the seconds done (for progress bars). */
  readonly onProgress?: (progress: TranscribeProgress) => void;
  /** Called once the language is known: detected (with its distribution) or given. */
  readonly onLanguage?: (language: string, probabilities: Readonly<Record<string, number>> | undefined) => void;
  /**
   * Decodes the windows in place of `decodeWithFallback`: a DecodeScheduler that batches the windows of
   * concurrent transcriptions of one model (the server). @default undefined (each transcription decodes alone)
   */
  readonly windowDecoder?: WindowDecoder;
  /**
   * Sequential pipeline: called after each 30 s window with where the transcription stands, enough to continue
   * it later exactly (`resumeFrom`). It is plain JSON data (store it as JSON). @default undefined
   */
  readonly onCheckpoint?: (checkpoint: TranscribeCheckpoint) => void;
  /**
   * Continues a transcription of the same audio with the same options from a checkpoint `onCheckpoint` gave: the
   * windows after it are decoded with the state they had, so the result is the uninterrupted run's (exactly so
   * when decoding is deterministic: temperature 0, or a `seed`). The segments before it are not yielded again.
   * @default undefined
   */
  readonly resumeFrom?: TranscribeCheckpoint;
}

/** Where a sequential transcription stands after a window (TranscribeOptions.onCheckpoint). */
export interface TranscribeCheckpoint {
  readonly version: 1;
  /** Mel frames of the audio's content: a checkpoint of other audio is refused. */
  readonly contentFrames: number;
  /** The next window's start, in mel frames, and the clip it is in. */
  readonly seek: number;
  readonly clipIndex: number;
  readonly language: string;
  readonly languageProbs: Readonly<Record<string, number>> | null;
  /** The text so far as tokens (the initial prompt's first) and where the next prompt may start drawing from. */
  readonly tokens: readonly number[];
  readonly promptResetSince: number;
  readonly segments: readonly Segment[];
  /** With word timestamps: where the last word ended (openai's last_speech_timestamp). */
  readonly lastSpeechTimestamp: number;
  /** Numbers drawn from the seeded sampler so far (replayed on resume). */
  readonly randomDraws: number;
}

/**
 * openai's CLI (and whisper.cpp's server `temperature_inc`): temperatures from `start` up to 1.0 in `increment`
 * steps; an increment of 0 turns fallback off.
 */
export function fallbackTemperatures(start: number, increment: number): number[] {
  if (increment <= 0) return [start];
  const temperatures: number[] = [];
  // Whole steps, not repeated float addition, so 0.2 * 3 stays 0.6 (numpy.arange computes start + i * step).
  for (let i = 0; start + i * increment <= 1 + 1e-6; i++) temperatures.push(Number((start + i * increment).toFixed(10)));
  // A start above 1 leaves openai's range empty (it then has no decode at all): decode once at that start.
  return temperatures.length > 0 ? temperatures : [start];
}

/** Temperatures of openai's fallback: 0, then 0.2 steps up to 1. */
export const FALLBACK_TEMPERATURES: readonly number[] = Object.freeze([0, 0.2, 0.4, 0.6, 0.8, 1]);

type Callbacks = 'onProgress' | 'onLanguage' | 'onTruncated' | 'runtime' | 'hub' | 'windowDecoder' | 'onCheckpoint' | 'resumeFrom';
type Unset = 'model' | 'variant' | 'language' | 'beamSize' | 'bestOf' | 'patience' | 'lengthPenalty' | 'initialPrompt' | 'sampleLen' | 'seed';

/** Transcription options with every default applied. */
export type TranscribeSettings = Required<Omit<TranscribeOptions, Callbacks | Unset | 'temperature'>> & {
  readonly [K in Unset]-?: Exclude<TranscribeOptions[K], WhisperModel> | undefined;
} & { readonly temperature: readonly number[] };

export const DEFAULT_TRANSCRIBE = Object.freeze({
  model: 'whisper-base',
  variant: undefined,
  language: undefined,
  task: 'transcribe',
  temperature: FALLBACK_TEMPERATURES,
  beamSize: undefined,
  bestOf: undefined,
  patience: undefined,
  lengthPenalty: undefined,
  initialPrompt: undefined,
  carryInitialPrompt: false,
  conditionOnPreviousText: true,
  noSpeechThreshold: 0.6,
  logprobThreshold: -1,
  compressionRatioThreshold: 2.4,
  suppressTokens: '-1',
  suppressBlank: true,
  withoutTimestamps: false,
  maxInitialTimestamp: 1,
  clipTimestamps: '0',
  sampleLen: undefined,
  seed: undefined,
  wordTimestamps: false,
  prependPunctuations: DEFAULT_WORD_TIMING.prependPunctuations,
  appendPunctuations: DEFAULT_WORD_TIMING.appendPunctuations,
  hallucinationSilenceThreshold: null,
  alignmentHeads: 'config',
  allowTruncated: DEFAULT_TRUNCATION.allowTruncated,
  tokenLogprobs: false,
} satisfies TranscribeSettings);

/** Merges `options` over DEFAULT_TRANSCRIBE (undefined means default) and checks every value. */
export function resolveTranscribeOptions(options: TranscribeOptions): TranscribeSettings {
  const given = Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k !== 'model'));
  const merged = { ...DEFAULT_TRANSCRIBE, ...given } as TranscribeSettings & Record<string, unknown>;
  const temperature = typeof merged.temperature === 'number' ? [merged.temperature] : [...(merged.temperature as readonly number[])];
  if (temperature.length === 0 || temperature.some((t) => typeof t !== 'number' || !Number.isFinite(t) || t < 0)) {
    bad(`temperature must be a number >= 0 or a non-empty list of them, got ${JSON.stringify(merged.temperature)}`);
  }
  checkTask(merged.task);
  for (const key of ['noSpeechThreshold', 'logprobThreshold', 'compressionRatioThreshold', 'maxInitialTimestamp'] as const) {
    const v = merged[key];
    if (v !== null && !(typeof v === 'number' && Number.isFinite(v))) bad(`${key} must be a number or null, got ${JSON.stringify(v)}`);
  }
  checkCounts(merged);
  if (merged.patience !== undefined && !(merged.patience > 0)) bad(`patience must be above 0, got ${merged.patience}`);
  checkLengthPenalty(merged.lengthPenalty);
  const hallucination = merged.hallucinationSilenceThreshold;
  if (hallucination !== null && !(typeof hallucination === 'number' && hallucination >= 0)) bad(`hallucinationSilenceThreshold must be seconds >= 0 or null, got ${JSON.stringify(hallucination)}`);
  if (hallucination !== null && !merged.wordTimestamps) bad('hallucinationSilenceThreshold needs wordTimestamps: true (it works on word times)');
  const heads = merged.alignmentHeads;
  if (heads !== 'config' && heads !== 'default' && !(Array.isArray(heads) && heads.every((h) => Array.isArray(h) && h.length === 2))) {
    bad(`alignmentHeads must be "config", "default" or [[layer, head], ...], got ${JSON.stringify(heads)}`);
  }
  return Object.freeze({ ...merged, temperature: Object.freeze(temperature) });
}

/** openai's clip_timestamps, as [startFrame, endFrame) pairs; the last end defaults to `contentFrames`. */
export function seekClips(clipTimestamps: string | readonly number[], contentFrames: number): [number, number][] {
  const seconds =
    typeof clipTimestamps === 'string'
      ? clipTimestamps
          .split(',')
          .filter((s) => s.trim() !== '')
          .map((s) => {
            const v = Number(s);
            if (!Number.isFinite(v) || s.trim() === '') bad(`clipTimestamps: "${s}" is not a number of seconds; give start,end,... in seconds`);
            return v;
          })
      : [...clipTimestamps];
  if (seconds.some((v) => !Number.isFinite(v) || v < 0)) bad(`clipTimestamps must be non-negative seconds, got ${JSON.stringify(clipTimestamps)}`);
  const points = seconds.map((s) => pyRound(s * 100));
  if (points.length === 0) points.push(0);
  if (points.length % 2 === 1) points.push(contentFrames);
  const clips: [number, number][] = [];
  for (let i = 0; i < points.length; i += 2) clips.push([points[i], points[i + 1]]);
  return clips;
}

/**
 * The decoding options of one window at temperature `t`: beam search belongs to temperature 0, best-of
 * sampling to the others (openai transcribe's decode_with_fallback). Shared by the sequential and batched loops.
 */
export function windowDecodingOptions(s: TranscribeSettings, language: string | undefined, t: number, prompt: readonly number[] | undefined): DecodingOptions {
  return {
    task: s.task,
    language,
    temperature: t,
    beamSize: t > 0 ? undefined : s.beamSize,
    patience: t > 0 ? undefined : s.patience,
    bestOf: t > 0 ? s.bestOf : undefined,
    lengthPenalty: s.lengthPenalty,
    prompt,
    suppressTokens: s.suppressTokens,
    suppressBlank: s.suppressBlank,
    withoutTimestamps: s.withoutTimestamps,
    maxInitialTimestamp: s.maxInitialTimestamp,
    sampleLen: s.sampleLen,
  };
}

/**
 * openai's failure test of one decode, shared by the sequential and batched loops: too repetitive or too
 * improbable fails (next temperature), unless the window looks silent, which the no-speech rule handles.
 */
export function decodeFailed(result: DecodingResult, s: TranscribeSettings): boolean {
  let failed = false;
  if (s.compressionRatioThreshold !== null && result.compressionRatio > s.compressionRatioThreshold) failed = true; // too repetitive
  if (s.logprobThreshold !== null && result.avgLogprob < s.logprobThreshold) failed = true; // too improbable
  if (s.noSpeechThreshold !== null && result.noSpeechProb > s.noSpeechThreshold && s.logprobThreshold !== null && result.avgLogprob < s.logprobThreshold) failed = false;
  return failed;
}

/**
 * The language fixed before decoding: the given one (checked against the model's language tokens), "en" for
 * English-only models, or undefined when it must be detected from the audio.
 */
export function givenLanguage(
  s: TranscribeSettings,
  model: { readonly isMultilingual: boolean; readonly tokenizer: { languageToken(language: string): number } },
): string | undefined {
  if (s.language !== undefined) {
    const code = toLanguageCode(s.language);
    if (code === undefined) throw new MoxingError('BAD_ARGUMENT', `unknown language "${s.language}"; give a code such as "en" or a name such as "English"`);
    if (model.isMultilingual) model.tokenizer.languageToken(code); // throws, naming the supported ones
    return code;
  }
  return model.isMultilingual ? undefined : 'en';
}

/** English-only (.en) models can neither translate nor transcribe another language. */
export function checkEnglishOnly(model: { readonly isMultilingual: boolean }, language: string, task: Task): void {
  if (!model.isMultilingual && (language !== 'en' || task === 'translate')) {
    throw new MoxingError('BAD_ARGUMENT', `this is an English-only (.en) model: it cannot ${task === 'translate' ? 'translate' : `transcribe language "${language}"`}; use a multilingual model`);
  }
}
