/**
 * Forced alignment of a known transcript to audio with a CTC model, the WhisperX way: the text is normalised
 * to the aligner's characters (its letter case, spaces → the `|` delimiter), aligned by a CTC trellis
 * (trellis.ts), and the character spans are grouped into words with start, end and score. Characters the
 * aligner cannot emit (digits, symbols, other scripts) are not aligned but never dropped: they get times
 * interpolated across the span between their aligned neighbours.
 */
import type { CtcVocabulary } from './config.js';
import { forcedAlign, mergeRepeats } from './trellis.js';
import { logSoftmax } from './decode.js';

/** Languages written without spaces: every character is its own word (WhisperX, openai). */
export const LANGUAGES_WITHOUT_SPACES: ReadonlySet<string> = new Set(['zh', 'ja', 'th', 'lo', 'my', 'yue']);

const APOSTROPHES = /[’‘ʼ`´]/g;

/** The transcript mapped onto the aligner's vocabulary. */
export interface AlignmentTargets {
  /** Vocab ids to align, in order. */
  readonly targets: readonly number[];
  /** For each target, the index of its character in the text. */
  readonly charIndex: readonly number[];
}

/** Vocab id for one character: as is, in the vocab's letter case, without diacritics, apostrophes unified. */
export function charToId(char: string, vocab: CtcVocabulary): number | undefined {
  const candidates = [char, char.toLowerCase(), char.toUpperCase()];
  const plain = char.normalize('NFD').replace(/\p{M}+/gu, '').replace(APOSTROPHES, "'");
  if (plain !== char && plain.length > 0) candidates.push(plain, plain.toLowerCase(), plain.toUpperCase());
  for (const c of candidates) {
    const id = vocab.ids.get(c);
    if (id !== undefined && !vocab.specialIds.has(id) && id !== vocab.delimiterId) return id;
  }
  return undefined;
}

/**
 * Normalises `text` to targets: letters the vocab has (in its case), one delimiter per inner run of
 * whitespace (when the vocab has one and the language uses spaces), nothing for other characters.
 */
export function alignmentTargets(text: string, vocab: CtcVocabulary, language?: string): AlignmentTargets {
  const chars = [...text];
  const spaced = !(language && LANGUAGES_WITHOUT_SPACES.has(language));
  const targets: number[] = [];
  const charIndex: number[] = [];
  let pendingSpace = -1;
  for (let i = 0; i < chars.length; i++) {
    if (/\s/u.test(chars[i])) {
      if (targets.length > 0 && pendingSpace < 0) pendingSpace = i;
      continue;
    }
    const id = charToId(chars[i], vocab);
    if (id === undefined) continue;
    if (pendingSpace >= 0 && spaced && vocab.delimiterId >= 0) {
      targets.push(vocab.delimiterId);
      charIndex.push(pendingSpace);
    }
    pendingSpace = -1;
    targets.push(id);
    charIndex.push(i);
  }
  return { targets, charIndex };
}

/** One character of the transcript with its time. */
export interface AlignedChar {
  readonly char: string;
  readonly start: number;
  readonly end: number;
  /** Alignment score (mean frame probability); undefined for interpolated characters. */
  readonly score?: number;
}

/** An aligned word: times in seconds, score the mean of its aligned characters' scores. */
export interface AlignedWord {
  readonly word: string;
  readonly start: number;
  readonly end: number;
  /** Mean character score; 0 when no character of the word could be aligned. */
  readonly probability: number;
  /** True when no character of the word was aligned and its times are interpolated. */
  readonly interpolated?: boolean;
}

export interface SegmentAlignment {
  readonly words: AlignedWord[];
  readonly chars: AlignedChar[];
}

/**
 * Aligns one segment's `text` to its emissions. `logits` [frames, vocabSize] cover the segment's audio,
 * which starts at `offsetS`; each frame lasts `frameSeconds`. Segment bounds for interpolation are
 * [offsetS, endS], endS defaulting to offsetS + frames · frameSeconds.
 */
export function alignSegment(
  text: string,
  logits: Float32Array,
  vocabSize: number,
  vocab: CtcVocabulary,
  frameSeconds: number,
  offsetS: number,
  language?: string,
  endS?: number,
): SegmentAlignment {
  const chars = [...text];
  const frames = Math.floor(logits.length / vocabSize);
  const { targets, charIndex } = alignmentTargets(text, vocab, language);
  const starts = new Float64Array(chars.length).fill(NaN);
  const ends = new Float64Array(chars.length).fill(NaN);
  const scores = new Float64Array(chars.length).fill(NaN);
  const path = targets.length > 0 ? forcedAlign(logSoftmax(logits, vocabSize), vocabSize, targets, vocab.blankId) : undefined;
  if (path) {
    for (const span of mergeRepeats(path)) {
      const c = charIndex[span.tokenIndex];
      starts[c] = round3(offsetS + span.start * frameSeconds);
      ends[c] = round3(offsetS + span.end * frameSeconds);
      scores[c] = span.score;
    }
  }
  interpolate(chars, starts, ends, offsetS, endS ?? round3(offsetS + frames * frameSeconds));
  const aligned: AlignedChar[] = chars.map((char, i) => ({
    char,
    start: starts[i],
    end: ends[i],
    ...(Number.isNaN(scores[i]) ? {} : { score: scores[i] }),
  }));
  return { chars: aligned, words: groupWords(chars, starts, ends, scores, language) };
}

/**
 * Gives every unaligned non-space character a time: each run of them (with the spaces inside it) is spread
 * evenly between the end of the last aligned letter before it and the start of the first aligned letter
 * after it (delimiters do not bound the run, so a dropped word takes the pause it sits in).
 */
function interpolate(chars: readonly string[], starts: Float64Array, ends: Float64Array, lo: number, hi: number): void {
  const isSpace = (i: number) => /\s/u.test(chars[i]);
  const aligned = (i: number) => !isSpace(i) && !Number.isNaN(starts[i]);
  let i = 0;
  while (i < chars.length) {
    if (isSpace(i) || aligned(i)) {
      i++;
      continue;
    }
    let end = i;
    while (end < chars.length && !aligned(end)) end++;
    while (end > i && isSpace(end - 1)) end--; // trailing spaces are not part of the run
    let before = i - 1;
    while (before >= 0 && !aligned(before)) before--;
    let after = end;
    while (after < chars.length && !aligned(after)) after++;
    const from = before >= 0 ? ends[before] : lo;
    const to = after < chars.length ? starts[after] : hi;
    const step = Math.max(0, to - from) / (end - i);
    for (let k = i; k < end; k++) {
      starts[k] = round3(from + (k - i) * step);
      ends[k] = round3(from + (k - i + 1) * step);
    }
    i = end;
  }
}

function groupWords(
  chars: readonly string[],
  starts: Float64Array,
  ends: Float64Array,
  scores: Float64Array,
  language?: string,
): AlignedWord[] {
  const perChar = language !== undefined && LANGUAGES_WITHOUT_SPACES.has(language);
  const words: AlignedWord[] = [];
  let i = 0;
  while (i < chars.length) {
    if (/\s/u.test(chars[i])) {
      i++;
      continue;
    }
    let end = i + 1;
    if (!perChar) while (end < chars.length && !/\s/u.test(chars[end])) end++;
    const withScore: number[] = [];
    for (let k = i; k < end; k++) if (!Number.isNaN(scores[k])) withScore.push(k);
    const span = withScore.length > 0 ? withScore : Array.from({ length: end - i }, (_, k) => i + k);
    words.push({
      word: chars.slice(i, end).join(''),
      start: Math.min(...span.map((k) => starts[k])),
      end: Math.max(...span.map((k) => ends[k])),
      probability: withScore.length > 0 ? round3(withScore.reduce((a, k) => a + scores[k], 0) / withScore.length) : 0,
      ...(withScore.length > 0 ? {} : { interpolated: true }),
    });
    i = end;
  }
  return words;
}

function round3(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
