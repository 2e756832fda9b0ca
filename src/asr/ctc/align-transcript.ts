/**
 * `alignTranscript`: word times for a known transcript. Timed segments (Whisper's output, subtitles) are
 * aligned one by one on their own audio span, as WhisperX does; plain text is aligned against the whole
 * audio at once, one output segment per non-empty line.
 */
import type { Segment, TranscriptionResult } from '../types.js';
import { MoxingError } from '../../errors.js';
import { ctcEmissions, loadCtcModel, type CtcChunkOptions, type CtcModel, type LoadCtcModelOptions } from './model.js';
import { alignSegment, alignmentTargets, LANGUAGES_WITHOUT_SPACES, type AlignedWord } from './align.js';

/** A transcript segment with its time span in seconds. Extra fields (Whisper's) are kept in the output. */
export interface TranscriptSegment extends Partial<Omit<Segment, 'text' | 'start' | 'end' | 'words'>> {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface AlignOptions extends LoadCtcModelOptions, Partial<CtcChunkOptions> {
  /** Language of the transcript (per-character words for zh, ja, th, lo, my, yue). */
  language?: string;
  /** Upper bound on frames × characters of one alignment (memory: one byte per cell). @default 300_000_000 */
  maxTrellisCells?: number;
}

export const DEFAULT_MAX_TRELLIS_CELLS = 300_000_000;

/** Aligned segments in TranscriptionResult form (each word's `probability` is its alignment score). */
export async function alignTranscript(
  audio: Float32Array,
  transcript: string | readonly TranscriptSegment[],
  aligner: string | CtcModel,
  options: AlignOptions = {},
): Promise<TranscriptionResult> {
  const model = typeof aligner === 'string' ? await loadCtcModel(aligner, options) : aligner;
  const sr = model.config.samplingRate;
  const duration = audio.length / sr;
  if (audio.length === 0) throw new MoxingError('AUDIO_INVALID', 'the audio is empty: there is nothing to align the transcript to');
  const language = options.language ?? model.config.vocab.language;
  const segments: Segment[] = [];

  if (typeof transcript === 'string') {
    const lines = transcript.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    if (lines.length === 0) throw new MoxingError('BAD_ARGUMENT', 'the transcript is empty: give the text spoken in the audio');
    const words = await alignSpan(model, audio, lines.join('\n'), 0, language, options);
    let at = 0;
    for (const line of lines) {
      const count = wordCount(line, language);
      segments.push(makeSegment(segments.length, line, words.slice(at, at + count), { start: 0, end: duration }, language));
      at += count;
    }
  } else {
    for (const input of transcript) {
      if (!(input.end >= input.start) || input.start < 0) {
        throw new MoxingError('BAD_ARGUMENT', `transcript segment "${input.text}" has an invalid span ${input.start}–${input.end} s`);
      }
      const from = Math.floor(input.start * sr);
      const to = Math.min(audio.length, Math.floor(input.end * sr));
      const text = input.text.trim();
      let words: AlignedWord[] = [];
      if (text.length > 0 && from < to) words = await alignSpan(model, audio.subarray(from, to), text, from / sr, language, options);
      // a span outside the audio: nothing to align, the words are spread over the span given (never dropped)
      else if (text.length > 0) words = alignSegment(text, new Float32Array(0), 1, model.config.vocab, 0, input.start, language, input.end).words;
      segments.push(makeSegment(segments.length, input.text, words, input, language));
    }
  }
  return {
    text: segments.map((s) => s.text).join(''),
    segments,
    language: language ?? 'und',
    duration,
  };
}

async function alignSpan(model: CtcModel, audio: Float32Array, text: string, offsetS: number, language: string | undefined, options: AlignOptions): Promise<AlignedWord[]> {
  const emissions = await ctcEmissions(model, audio, options);
  const cells = emissions.frames * alignmentTargets(text, model.config.vocab, language).targets.length;
  const limit = options.maxTrellisCells ?? DEFAULT_MAX_TRELLIS_CELLS;
  if (cells > limit) {
    throw new MoxingError(
      'BAD_ARGUMENT',
      `aligning ${text.length} characters to ${(emissions.frames * emissions.frameSeconds).toFixed(0)} s of audio at once needs ${cells} trellis cells (limit ${limit}); ` +
        'give a timed transcript (srt, vtt or Whisper json) or split the audio and text into shorter pieces',
    );
  }
  return alignSegment(text, emissions.logits, emissions.vocabSize, model.config.vocab, emissions.frameSeconds, offsetS, language).words;
}

function wordCount(line: string, language: string | undefined): number {
  if (language !== undefined && LANGUAGES_WITHOUT_SPACES.has(language)) return [...line].filter((c) => !/\s/u.test(c)).length;
  return line.split(/\s+/u).filter((w) => w.length > 0).length;
}

function makeSegment(
  id: number,
  text: string,
  words: readonly AlignedWord[],
  span: Partial<Segment> & { start: number; end: number },
  language: string | undefined,
): Segment {
  const spaced = !(language !== undefined && LANGUAGES_WITHOUT_SPACES.has(language));
  const timed = words.map((w) => ({ ...w, word: spaced ? ` ${w.word}` : w.word }));
  return {
    seek: 0,
    tokens: [],
    temperature: 0,
    avgLogprob: 0,
    compressionRatio: 0,
    noSpeechProb: 0,
    ...span,
    id: span.id ?? id,
    text: span.text !== undefined ? span.text : spaced ? ` ${text}` : text,
    start: timed.length > 0 ? timed[0].start : span.start,
    end: timed.length > 0 ? timed[timed.length - 1].end : span.end,
    words: timed,
  };
}
