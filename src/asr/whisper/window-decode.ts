/**
 * What the two transcription loops, sequential (transcribe.ts, openai `transcribe()`) and batched
 * (batched/index.ts), share about one decoded 30 s window: the model they need, the initial prompt's tokens,
 * decoding with temperature fallback, the no-speech rule and the segment record. Kept apart from both loops
 * so that neither imports the other.
 */
import { MoxingError } from '../../errors.js';
import { pyStrip } from '../../text/index.js';
import type { Segment } from '../types.js';
import type { WhisperDims } from './config.js';
import { gatherRows } from './decoder-runner.js';
import { DecodingTask, type DecodingContext, type DecodingOptions, type DecodingResult } from './decode.js';
import type { AudioFeatures } from './encoder.js';
import type { WordSplitter } from './timing.js';
import { decodeFailed, type TranscribeSettings } from './transcribe-options.js';
import type { WordTimingModel } from './word-timestamps.js';

/** Audio to transcribe: a file path, the bytes of a file, or 16 kHz mono samples. */
export type TranscribeInput = string | Uint8Array | Float32Array;

/** What transcription needs of a model: a WhisperModel, or a scripted stand-in in tests. */
export interface TranscriptionModel extends DecodingContext, Partial<WordTimingModel> {
  readonly dims: Pick<WhisperDims, 'nMels' | 'nAudioCtx' | 'nTextCtx'>;
  readonly isMultilingual: boolean;
  readonly tokenizer: DecodingContext['tokenizer'] & {
    languageToken(language: string): number;
    /** Word grouping for word timestamps (openai `split_to_word_tokens`). */
    splitToWordTokens?(tokens: readonly number[], language: string | undefined): ReturnType<WordSplitter>;
  };
  /** Encodes one [nMels, 3000] mel window. */
  encode(mel: Float32Array): Promise<AudioFeatures>;
}

/** The tokens of `initialPrompt` as openai encodes them (" " + prompt.strip()); undefined without one. */
export function promptTokens(tokenizer: { encode(text: string): number[] }, initialPrompt: string | undefined): number[] | undefined {
  return initialPrompt !== undefined ? tokenizer.encode(' ' + pyStrip(initialPrompt)) : undefined;
}

/** openai's no-speech rule: a window is silent when no-speech is likely, unless the decode is confident. */
export function isSilentWindow(result: DecodingResult, s: Pick<TranscribeSettings, 'noSpeechThreshold' | 'logprobThreshold'>): boolean {
  if (s.noSpeechThreshold === null || !(result.noSpeechProb > s.noSpeechThreshold)) return false;
  return !(s.logprobThreshold !== null && result.avgLogprob > s.logprobThreshold);
}

/**
 * openai's `decode_with_fallback` over every window of `features`: all decoded at the first temperature,
 * then the windows that failed retried together, hotter, until they pass or the temperatures run out (the
 * last decode stands). One window is the sequential loop's case.
 */
export async function decodeWithFallback(
  model: DecodingContext,
  features: AudioFeatures,
  optionsAt: (t: number) => DecodingOptions,
  s: TranscribeSettings,
  random: () => number,
): Promise<DecodingResult[]> {
  const [first, ...hotter] = s.temperature;
  const results = await new DecodingTask(model, optionsAt(first), random).run(features);
  let failing = results.map((r, i) => (decodeFailed(r, s) ? i : -1)).filter((i) => i >= 0);
  for (const t of hotter) {
    if (failing.length === 0) break;
    // Every row failing (always so for one window): the features as they are, without a copy.
    const sub: AudioFeatures = failing.length === features.batch ? features : { batch: failing.length, tensor: gatherRows(features.tensor, failing) };
    const retried = await new DecodingTask(model, optionsAt(t), random).run(sub);
    retried.forEach((r, j) => (results[failing[j]] = r));
    failing = failing.filter((_, j) => decodeFailed(retried[j], s));
  }
  return results;
}

/** Decodes windows as decodeWithFallback does: the hook a scheduler batching across transcriptions fills. */
export interface WindowDecoder {
  decode(model: DecodingContext, features: AudioFeatures, optionsAt: (t: number) => DecodingOptions, s: TranscribeSettings, random: () => number): Promise<DecodingResult[]>;
}

/** Where a segment sits and what it says; the decode's figures come from its DecodingResult. */
export type SegmentPlace = Pick<Segment, 'id' | 'seek' | 'start' | 'end' | 'text' | 'tokens' | 'words' | 'tokenLogprobs'>;

/** The segment record of openai's `new_segment`: its place and text, and the figures of the decode it came from. */
export function toSegment(place: SegmentPlace, result: DecodingResult): Segment {
  const { words, tokenLogprobs, ...rest } = place;
  return {
    ...rest,
    temperature: result.temperature,
    avgLogprob: result.avgLogprob,
    compressionRatio: result.compressionRatio,
    noSpeechProb: result.noSpeechProb,
    ...(tokenLogprobs !== undefined ? { tokenLogprobs } : {}),
    ...(words !== undefined ? { words } : {}),
  };
}

/** The log-probs of `tokens`, a run of the decode's own tokens starting at `from` (segments are consecutive slices of a window's tokens). */
export function logprobsOf(result: DecodingResult, from: number, tokens: readonly number[]): number[] {
  const logprobs = result.tokenLogprobs.slice(from, from + tokens.length);
  if (logprobs.length !== tokens.length || tokens.some((t, i) => result.tokens[from + i] !== t)) {
    throw new MoxingError('INTERNAL', 'a segment\'s tokens are not the decode\'s tokens at its place');
  }
  return logprobs;
}
