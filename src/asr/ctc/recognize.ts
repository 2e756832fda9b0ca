/**
 * Speech recognition with a wav2vec2 / HuBERT / MMS CTC export: emissions over the (chunked) audio, greedy CTC
 * decoding, and words grouped into segments at pauses, returned as the same `TranscriptionResult` Whisper gives
 * (so every writer works on it).
 */
import type { Segment, TranscriptionResult, Word } from '../types.js';
import { compressionRatio } from '../../text/compression.js';
import { ctcEmissions, DEFAULT_CTC_CHUNK, loadCtcModel, type CtcChunkOptions, type CtcModel, type LoadCtcModelOptions } from './model.js';
import { greedyCtcDecode, type CtcWord } from './decode.js';
import { MoxingError } from '../../errors.js';

export interface CtcRecognizeOptions extends CtcChunkOptions, LoadCtcModelOptions {
  /** A pause between words at least this long starts a new segment. @default 0.8 (seconds) */
  segmentGapS: number;
  /** A segment is closed before it grows longer than this. @default 15 (seconds) */
  maxSegmentS: number;
}

export const DEFAULT_CTC_RECOGNIZE: Readonly<Omit<CtcRecognizeOptions, keyof LoadCtcModelOptions>> = Object.freeze({
  ...DEFAULT_CTC_CHUNK,
  segmentGapS: 0.8,
  maxSegmentS: 15,
});

/**
 * Transcribes 16 kHz mono samples (resample first when the model's `sampling_rate` differs) with the CTC model
 * in `model` (an export folder or a loaded model). Words carry times; `language` is the MMS vocabulary's or
 * the one given, else "und".
 */
export async function recognizeCtc(
  audio: Float32Array,
  model: string | CtcModel,
  options: Partial<CtcRecognizeOptions> = {},
): Promise<TranscriptionResult> {
  const opts = {
    ...DEFAULT_CTC_RECOGNIZE,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as CtcRecognizeOptions;
  if (!(opts.segmentGapS > 0) || !(opts.maxSegmentS > 0)) {
    throw new MoxingError('BAD_ARGUMENT', `segmentGapS and maxSegmentS must be positive seconds, got ${opts.segmentGapS} and ${opts.maxSegmentS}`);
  }
  const loaded = typeof model === 'string' ? await loadCtcModel(model, options) : model;
  const emissions = await ctcEmissions(loaded, audio, opts);
  const decoded = greedyCtcDecode(emissions.logits, emissions.vocabSize, loaded.config.vocab);
  const dt = emissions.frameSeconds;
  const groups = groupWords(decoded.words, dt, opts.segmentGapS, opts.maxSegmentS);
  const segments: Segment[] = groups.map((words, id) => {
    const text = words.map((w) => ` ${w.word}`).join('');
    const frames = words.reduce((n, w) => n + (w.endFrame - w.startFrame), 0);
    const logprob = words.reduce((s, w) => s + w.logprob * (w.endFrame - w.startFrame), 0) / frames;
    const timed: Word[] = words.map((w) => ({
      word: ` ${w.word}`,
      start: round3(w.startFrame * dt),
      end: round3(w.endFrame * dt),
      probability: w.probability,
    }));
    return {
      id,
      seek: 0,
      start: timed[0].start,
      end: timed[timed.length - 1].end,
      text,
      tokens: decoded.tokens.filter((t) => t.startFrame >= words[0].startFrame && t.endFrame <= words[words.length - 1].endFrame).map((t) => t.id),
      temperature: 0,
      avgLogprob: logprob,
      compressionRatio: compressionRatio(text),
      noSpeechProb: 0,
      words: timed,
    };
  });
  return {
    text: segments.map((s) => s.text).join(''),
    segments,
    language: options.language ?? loaded.config.vocab.language ?? 'und',
    duration: audio.length / loaded.config.samplingRate,
  };
}

function round3(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Splits the word sequence at pauses of `gapS` or more, and before a segment would exceed `maxS`. */
export function groupWords(words: readonly CtcWord[], frameSeconds: number, gapS: number, maxS: number): CtcWord[][] {
  const groups: CtcWord[][] = [];
  let current: CtcWord[] = [];
  for (const word of words) {
    if (current.length > 0) {
      const gap = (word.startFrame - current[current.length - 1].endFrame) * frameSeconds;
      const length = (word.endFrame - current[0].startFrame) * frameSeconds;
      if (gap >= gapS || length > maxS) {
        groups.push(current);
        current = [];
      }
    }
    current.push(word);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
