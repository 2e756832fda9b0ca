/**
 * A live decode's tokens as timed segments and words. Segments are what Whisper's timestamp tokens say (the
 * unfinished last one ends at the end of the buffer). Word times are spread over their segment by character
 * count: whisper_streaming takes faster-whisper's word timestamps; here the times only place the commits and
 * the buffer trimming (the words themselves come from the decode), which segment precision serves.
 */
import { toMs, type TimedWord } from './agreement.js';

export interface TimedSegment {
  readonly start: number;
  readonly end: number;
  readonly words: readonly TimedWord[];
}

export interface LiveTokenizer {
  readonly eot: number;
  readonly timestampBegin: number;
  splitToWordTokens(tokens: readonly number[], language: string | undefined): { words: string[]; wordTokens: number[][] };
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
