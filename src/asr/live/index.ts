/**
 * asr/live: live transcription. `transcribeLive(source, options)` turns a stream of 16 kHz audio into events
 * (speech_started, partial, committed, speech_stopped) with LocalAgreement-2 or VAD endpointing; streams on
 * one model share its LiveDecoder and so batch their decodes.
 */
import { DEFAULT_VAD_RUNTIME, SileroVad } from '../../audio/index.js';
import { MoxingError } from '../../errors.js';
import type { ModelLoadOptions } from '../../hub/index.js';
import type { Task } from '../types.js';
import { DEFAULT_TRANSCRIBE } from '../whisper/transcribe-options.js';
import { WhisperModel } from '../whisper/model.js';
import { resolveAlignmentHeads, type AlignmentHeadsOption } from '../whisper/word-timestamps.js';
import { LiveDecoder } from './decoder.js';
import { resolveTurnDetection, type TurnDetection } from './endpoint.js';
import { LiveTranscriber, type LiveEvent, type LivePolicy, type LiveSettings } from './transcriber.js';
import type { LiveWordTiming } from './words.js';

export { HypothesisBuffer, promptText, trimPoint, PROMPT_CHARS, type TimedWord } from './agreement.js';
export { LiveDecoder, traceLiveBatches, windowMel, type LiveBatchTrace, type LiveDecodeRequest, type LiveDecodeResult, type LiveDecoderStats, type LiveModel } from './decoder.js';
export { Endpointer, DEFAULT_TURN_DETECTION, resolveTurnDetection, type TurnDetection, type TurnEdge } from './endpoint.js';
export { LiveTranscriber, type LiveEvent, type LivePolicy, type LiveSettings } from './transcriber.js';
export { alignedSegments, timedSegments, type LiveWordTiming, type TimedSegment } from './words.js';

export interface LiveOptions extends ModelLoadOptions {
  /** A Whisper reference, or a loaded model (streams on one model object share its batched decoder). @default DEFAULT_TRANSCRIBE.model */
  readonly model?: string | WhisperModel;
  /** What is committed inside an utterance (see transcriber.ts). @default 'local-agreement' */
  readonly policy?: LivePolicy;
  /** VAD turn detection (OpenAI server_vad's fields), or null for none: turns end at the end of the input. @default DEFAULT_TURN_DETECTION */
  readonly turnDetection?: Partial<TurnDetection> | null;
  /** New audio between decodes, in seconds (whisper_streaming's --min-chunk-size). @default 1 */
  readonly minChunkS?: number;
  /** local-agreement trims its buffer at a committed segment end once it is longer than this. @default 15 */
  readonly bufferTrimS?: number;
  /** Language code; detected at each decode when undefined. @default undefined */
  readonly language?: string;
  /** @default 'transcribe' */
  readonly task?: Task;
  /** Text to prompt every decode with (names, spelling). @default undefined */
  readonly prompt?: string;
  /** openai's no-speech rule on each decode; null turns it off. @default 0.6 */
  readonly noSpeechThreshold?: number | null;
  /** Most tokens one decode samples (a bound on a hallucinating decode's cost). @default 224 (nTextCtx / 2) */
  readonly maxTokens?: number;
  /** Committed words carry their tokens and the decoder's log-prob of each (TimedWord.logprobs). @default false */
  readonly tokenLogprobs?: boolean;
  /**
   * Commits carry `words`: word, start, end and probability as openai's word timing gives them (cross-attention
   * DTW; the timestamped decoder, loaded with it when `model` is a reference). @default false
   */
  readonly wordTimestamps?: boolean;
  /** With wordTimestamps: the heads to align with, as TranscribeOptions.alignmentHeads. @default 'config' */
  readonly alignmentHeads?: AlignmentHeadsOption;
  /**
   * 'vad' policy: a turn's final decode starts once its audio is all here (the silence holds the padding),
   * before the turn is decided; thrown away if the speech goes on. Commits are the same either way, only
   * sooner. @default true
   */
  readonly speculativeFinal?: boolean;
  /** A loaded Silero model to share; loaded once per call otherwise. */
  readonly vadModel?: SileroVad;
}

export const DEFAULT_LIVE = Object.freeze({ policy: 'local-agreement' as LivePolicy, minChunkS: 1, bufferTrimS: 15, task: 'transcribe' as Task, noSpeechThreshold: 0.6, wordTimestamps: false, speculativeFinal: true });

/** The settings of a live stream, checked. */
export function resolveLiveOptions(options: LiveOptions = {}): LiveSettings {
  const policy = options.policy ?? DEFAULT_LIVE.policy;
  if (policy !== 'vad' && policy !== 'local-agreement') throw new MoxingError('BAD_ARGUMENT', `policy must be "vad" or "local-agreement", got ${JSON.stringify(policy)}`);
  const minChunkS = options.minChunkS ?? DEFAULT_LIVE.minChunkS;
  if (!(typeof minChunkS === 'number' && minChunkS >= 0.1 && minChunkS <= 10)) throw new MoxingError('BAD_ARGUMENT', `minChunkS must be from 0.1 to 10 seconds, got ${String(minChunkS)}`);
  const bufferTrimS = options.bufferTrimS ?? DEFAULT_LIVE.bufferTrimS;
  if (!(typeof bufferTrimS === 'number' && bufferTrimS >= 1 && bufferTrimS <= 28)) throw new MoxingError('BAD_ARGUMENT', `bufferTrimS must be from 1 to 28 seconds, got ${String(bufferTrimS)}`);
  const task = options.task ?? DEFAULT_LIVE.task;
  if (task !== 'transcribe' && task !== 'translate') throw new MoxingError('BAD_ARGUMENT', `task must be "transcribe" or "translate", got ${JSON.stringify(task)}`);
  const noSpeechThreshold = options.noSpeechThreshold === undefined ? DEFAULT_LIVE.noSpeechThreshold : options.noSpeechThreshold;
  const maxTokens = options.maxTokens;
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens >= 1 && maxTokens <= 224)) throw new MoxingError('BAD_ARGUMENT', `maxTokens must be a whole number from 1 to 224, got ${String(maxTokens)}`);
  const wordTimestamps = options.wordTimestamps ?? DEFAULT_LIVE.wordTimestamps;
  const tokenLogprobs = options.tokenLogprobs ?? false;
  // DTW's words are not the decoder's tokens (punctuation merged): which log-probs a word has is not settled.
  if (wordTimestamps && tokenLogprobs) throw new MoxingError('BAD_ARGUMENT', 'wordTimestamps and tokenLogprobs cannot be asked for together in a live stream: pick one');
  return Object.freeze({
    maxTokens,
    policy,
    turnDetection: options.turnDetection === null ? null : resolveTurnDetection(options.turnDetection ?? {}),
    minChunkS,
    bufferTrimS,
    language: options.language,
    task,
    prompt: options.prompt,
    noSpeechThreshold,
    tokenLogprobs,
    wordTimestamps,
    speculativeFinal: options.speculativeFinal ?? DEFAULT_LIVE.speculativeFinal,
  });
}

/** A live stream over a loaded model, for callers that push audio themselves (the server, `moxing listen`). */
export async function openLiveStream(options: LiveOptions = {}): Promise<LiveTranscriber> {
  const settings = resolveLiveOptions(options);
  const model =
    options.model instanceof WhisperModel
      ? options.model
      : await WhisperModel.load(options.model ?? DEFAULT_TRANSCRIBE.model, { variant: options.variant, runtime: options.runtime, hub: options.hub, timestamped: settings.wordTimestamps });
  if (settings.language !== undefined && !model.isMultilingual && settings.language !== 'en') {
    throw new MoxingError('BAD_ARGUMENT', `this model is English-only; it cannot transcribe language "${settings.language}"`);
  }
  const vad = settings.turnDetection ? (options.vadModel ?? (await SileroVad.load(undefined, { runtime: DEFAULT_VAD_RUNTIME }))) : undefined;
  let wordTiming: LiveWordTiming | undefined;
  if (settings.wordTimestamps) {
    model.requireCrossAttentions();
    wordTiming = { model, heads: resolveAlignmentHeads(options.alignmentHeads ?? DEFAULT_TRANSCRIBE.alignmentHeads, model) };
  }
  return new LiveTranscriber(LiveDecoder.for(model), vad, settings, wordTiming);
}

/**
 * Transcribes `source` (16 kHz mono samples, in pieces as they arrive) live: yields each event as the audio
 * settles it, and the final commit when the source ends.
 */
export async function* transcribeLive(source: AsyncIterable<Float32Array> | Iterable<Float32Array>, options: LiveOptions = {}): AsyncGenerator<LiveEvent, void, undefined> {
  const stream = await openLiveStream(options);
  for await (const samples of source) yield* await stream.push(samples);
  yield* await stream.finish();
}
