/**
 * A live decode's tokens as timed segments and words. Segments are what Whisper's timestamp tokens say (the
 * unfinished last one ends at the end of the buffer). By default word times are spread over their segment by
 * character count: they only place the commits and the buffer trimming (the words themselves come from the
 * decode), which segment precision serves. With word timestamps asked for, `alignedSegments` times them as
 * openai's `add_word_timestamps` does (cross-attention DTW, word-timestamps.ts), as whisper_streaming takes
 * faster-whisper's word timestamps.
 */
import { HOP_LENGTH, N_FRAMES, SAMPLE_RATE } from '../../audio/index.js';
import type { Task } from '../types.js';
import type { AudioFeatures } from '../whisper/encoder.js';
import { DEFAULT_WORD_TIMING } from '../whisper/timing.js';
import { cutWindow } from '../whisper/window-segments.js';
import { timeWindowWords, type WindowSegmentDraft, type WordTimingModel } from '../whisper/word-timestamps.js';
import { toMs, type TimedWord } from './agreement.js';

export interface TimedSegment {
  readonly start: number;
  readonly end: number;
  readonly words: readonly TimedWord[];
}

export interface LiveTokenizer {
  readonly eot: number;
  readonly timestampBegin: number;
  readonly noTimestamps: number;
  sotSequence(language?: string, task?: Task): number[];
  splitToWordTokens(tokens: readonly number[], language: string | undefined): { words: string[]; wordTokens: number[][] };
}

/** What word timing needs: the timestamped decoder and the heads to align with (resolveAlignmentHeads). */
export interface LiveWordTiming {
  readonly model: WordTimingModel;
  readonly heads: readonly (readonly [number, number])[];
}

/** Timestamp steps are 20 ms (30 s / 1500 encoder positions). */
const TIME_PRECISION = 0.02;

/**
 * Segments of `tokens` (sampled tokens, no EOT), with times in seconds of a buffer `duration` long. With
 * `logprobs` (one per token), each word carries its tokens and their log-probs.
 */
export function timedSegments(tokens: readonly number[], tokenizer: LiveTokenizer, language: string | undefined, duration: number, logprobs?: readonly number[]): TimedSegment[] {
  const segments: TimedSegment[] = [];
  let start: number | undefined;
  let text: number[] = [];
  let textLogprobs: number[] = [];
  const close = (end: number): void => {
    const from = Math.min(start ?? segments.at(-1)?.end ?? 0, end);
    const split = tokenizer.splitToWordTokens(text, language);
    let at = 0;
    const words = split.words
      .map((word, i) => {
        const n = split.wordTokens[i].length;
        at += n;
        return logprobs ? { word, tokens: text.slice(at - n, at), logprobs: textLogprobs.slice(at - n, at) } : { word };
      })
      .filter((w) => w.word.trim() !== '');
    if (words.length > 0) segments.push({ start: from, end, words: spreadWords(words, from, end) });
    start = undefined;
    text = [];
    textLogprobs = [];
  };
  tokens.forEach((token, i) => {
    if (token >= tokenizer.timestampBegin) {
      const time = Math.min(duration, (token - tokenizer.timestampBegin) * TIME_PRECISION);
      if (text.length === 0) start = time;
      else close(time);
    } else if (token < tokenizer.eot) {
      text.push(token);
      if (logprobs) textLogprobs.push(logprobs[i]);
    }
  });
  if (text.length > 0) close(Math.max(duration, start ?? 0));
  return segments;
}

/** Times for `words` inside [start, end], in proportion to their lengths. */
function spreadWords(words: readonly Omit<TimedWord, 'start' | 'end'>[], start: number, end: number): TimedWord[] {
  const total = words.reduce((n, w) => n + w.word.length, 0);
  const span = Math.max(0, end - start);
  let at = start;
  return words.map((w) => {
    const from = at;
    at += total > 0 ? (span * w.word.length) / total : 0;
    return { start: toMs(from), end: toMs(at), ...w };
  });
}

/**
 * The segments of one decoded window (`tokens`, no EOT, on the encoded window `features` of a buffer
 * `duration` seconds long) with openai's word timing: one timestamped decoder pass over the text tokens, DTW
 * over its cross attentions, punctuation merged, times rounded to 0.01 s. As openai times a window alone (its
 * first, seek 0) except that the unfinished last segment is kept, up to the buffer's end: a live decode's
 * text is all of its tokens.
 */
export async function alignedSegments(
  timing: LiveWordTiming,
  tokenizer: LiveTokenizer,
  decoded: { readonly tokens: readonly number[]; readonly language: string; readonly task: Task; readonly features: AudioFeatures },
  duration: number,
): Promise<TimedSegment[]> {
  const numFrames = Math.min(N_FRAMES, Math.floor(Math.round(duration * SAMPLE_RATE) / HOP_LENGTH));
  const drafts = windowDrafts(decoded.tokens, tokenizer, numFrames, duration);
  await timeWindowWords(drafts, {
    model: timing.model,
    features: decoded.features,
    heads: timing.heads,
    sotSequence: tokenizer.sotSequence(decoded.language, decoded.task),
    noTimestamps: tokenizer.noTimestamps,
    eot: tokenizer.eot,
    splitToWordTokens: (tokens) => tokenizer.splitToWordTokens(tokens, decoded.language),
    numFrames,
    seekFrames: 0,
    lastSpeechTimestamp: 0,
    prependPunctuations: DEFAULT_WORD_TIMING.prependPunctuations,
    appendPunctuations: DEFAULT_WORD_TIMING.appendPunctuations,
  });
  return drafts
    .filter((d) => d.words.length > 0)
    .map((d) => ({ start: d.start, end: d.end, words: d.words.map((w) => ({ start: w.start, end: w.end, word: w.word, probability: w.probability })) }));
}

/** openai's segments of a window (window-segments.ts), and the unfinished tail as one more, to `duration`. */
function windowDrafts(tokens: readonly number[], tokenizer: LiveTokenizer, numFrames: number, duration: number): WindowSegmentDraft[] {
  const cut = cutWindow(tokens, tokenizer.timestampBegin, { timeOffset: 0, segmentFrames: numFrames, inputStride: 2, timePrecision: TIME_PRECISION });
  const drafts: WindowSegmentDraft[] = cut.segments.map((s) => ({ start: s.start, end: s.end, tokens: s.tokens, words: [] }));
  const tail = tokens.slice(cut.segments.reduce((n, s) => n + s.tokens.length, 0));
  if (tail.some((t) => t < tokenizer.eot)) {
    const start = tail[0] >= tokenizer.timestampBegin ? Math.min(duration, (tail[0] - tokenizer.timestampBegin) * TIME_PRECISION) : (drafts.at(-1)?.end ?? 0);
    drafts.push({ start, end: duration, tokens: tail, words: [] });
  }
  return drafts;
}
