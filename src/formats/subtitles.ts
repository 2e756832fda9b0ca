/**
 * The cues of a subtitle file, as openai/whisper's SubtitlesWriter.iterate_result builds them: one per
 * segment, or, when the segments carry words, lines packed from words (width, line count, words per line,
 * long pauses) with optional karaoke-style highlighting of the spoken word.
 */
import type { Segment, TranscriptionResult, Word } from '../asr/types.js';
import { pyLen, pyStrip } from '../text/python.js';
import { formatTimestamp, type TimestampStyle } from './timestamp.js';

export interface SubtitleOptions {
  /** Underline each word in its own cue while it is spoken (needs word timestamps). @default false */
  highlightWords: boolean;
  /** Most characters in a line before it breaks (needs word timestamps); unset: no limit. @default undefined */
  maxLineWidth?: number;
  /** Most lines in a cue (needs word timestamps; with maxLineWidth, cues no longer follow segments). @default undefined */
  maxLineCount?: number;
  /** Most words in a line (needs word timestamps); unset: no limit. @default undefined */
  maxWordsPerLine?: number;
}

export const DEFAULT_SUBTITLE_OPTIONS: Readonly<SubtitleOptions> = Object.freeze({
  highlightWords: false,
  maxLineWidth: undefined,
  maxLineCount: undefined,
  maxWordsPerLine: undefined,
});

export interface Cue {
  /** Formatted start and end, as they appear in the file. */
  readonly start: string;
  readonly end: string;
  readonly text: string;
}

/** A long pause (seconds) starts a new cue when cues need not follow segments. */
const LONG_PAUSE_S = 3.0;
/** openai's stand-in for "no limit". */
const UNLIMITED = 1000;

function wordsOf(segment: Segment): readonly Word[] {
  return segment.words ?? [];
}

/** openai get_start: the first word's start, else the first segment's. */
function firstStart(segments: readonly Segment[]): number | undefined {
  for (const segment of segments) for (const word of wordsOf(segment)) return word.start;
  return segments.length > 0 ? segments[0].start : undefined;
}

interface Timing {
  word: string;
  start: number;
  end: number;
  speaker?: string;
}

/** WhisperX's `[SPEAKER_00]: ` before the text of a line whose (first word's) speaker is known. */
export function speakerPrefix(speaker: string | undefined): string {
  return speaker === undefined ? '' : `[${speaker}]: `;
}

function* wordLines(segments: readonly Segment[], options: SubtitleOptions): Generator<Timing[]> {
  const preserveSegments = options.maxLineCount === undefined || options.maxLineWidth === undefined;
  const maxLineWidth = options.maxLineWidth || UNLIMITED;
  const maxWordsPerLine = options.maxWordsPerLine || UNLIMITED;
  const maxLineCount = options.maxLineCount;
  let lineLength = 0;
  let lineCount = 1;
  let subtitle: Timing[] = [];
  let last = firstStart(segments) || 0.0;
  for (const segment of segments) {
    const words = wordsOf(segment);
    let chunkIndex = 0;
    let wordsCount = maxWordsPerLine;
    while (chunkIndex < words.length) {
      const remaining = words.length - chunkIndex;
      if (maxWordsPerLine > remaining) wordsCount = remaining;
      const chunk = words.slice(chunkIndex, chunkIndex + wordsCount);
      for (let i = 0; i < chunk.length; i++) {
        const timing: Timing = { word: chunk[i].word, start: chunk[i].start, end: chunk[i].end, ...(chunk[i].speaker === undefined ? {} : { speaker: chunk[i].speaker }) };
        const longPause = !preserveSegments && timing.start - last > LONG_PAUSE_S;
        const hasRoom = lineLength + pyLen(timing.word) <= maxLineWidth;
        const segmentBreak = i === 0 && subtitle.length > 0 && preserveSegments;
        if (lineLength > 0 && hasRoom && !longPause && !segmentBreak) {
          lineLength += pyLen(timing.word); // line continuation
        } else {
          timing.word = pyStrip(timing.word);
          if ((subtitle.length > 0 && maxLineCount !== undefined && (longPause || lineCount >= maxLineCount)) || segmentBreak) {
            yield subtitle; // subtitle break
            subtitle = [];
            lineCount = 1;
          } else if (lineLength > 0) {
            lineCount += 1; // line break
            timing.word = '\n' + timing.word;
          }
          lineLength = pyLen(pyStrip(timing.word));
        }
        subtitle.push(timing);
        last = timing.start;
      }
      chunkIndex += maxWordsPerLine;
    }
  }
  if (subtitle.length > 0) yield subtitle;
}

/** The cues of `result` in the given time style (openai iterate_result). */
export function* iterateCues(
  result: TranscriptionResult,
  style: TimestampStyle,
  options: Partial<SubtitleOptions> = {},
): Generator<Cue> {
  const opts: SubtitleOptions = { ...DEFAULT_SUBTITLE_OPTIONS, ...options };
  const format = (seconds: number): string => formatTimestamp(seconds, style);
  const segments = result.segments;
  if (segments.length > 0 && segments[0].words !== undefined) {
    for (const subtitle of wordLines(segments, opts)) {
      const start = format(subtitle[0].start);
      const end = format(subtitle[subtitle.length - 1].end);
      const prefix = speakerPrefix(subtitle[0].speaker);
      const text = prefix + subtitle.map((w) => w.word).join('');
      if (!opts.highlightWords) {
        yield { start, end, text };
        continue;
      }
      let last = start;
      const all = subtitle.map((w) => w.word);
      for (let i = 0; i < subtitle.length; i++) {
        const wordStart = format(subtitle[i].start);
        const wordEnd = format(subtitle[i].end);
        if (last !== wordStart) yield { start: last, end: wordStart, text };
        const highlighted = prefix + all.map((word, j) => (j === i ? word.replace(/^(\s*)(.*)$/u, '$1<u>$2</u>') : word)).join('');
        yield { start: wordStart, end: wordEnd, text: highlighted };
        last = wordEnd;
      }
    }
  } else {
    for (const segment of segments) {
      yield { start: format(segment.start), end: format(segment.end), text: speakerPrefix(segment.speaker) + pyStrip(segment.text).replaceAll('-->', '->') };
    }
  }
}
