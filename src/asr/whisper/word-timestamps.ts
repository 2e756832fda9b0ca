/**
 * Word timestamps inside the transcribe loop, as openai/whisper `transcribe.py` does them with
 * `word_timestamps=True`: one extra pass of the timestamped decoder per window (its cross attentions), the
 * words of `timing.ts`, and the hallucination-silence rule (`hallucination_silence_threshold`) that may move
 * `seek` or drop a window's last segments.
 */
import { MoxingError } from '../../errors.js';
import { FRAMES_PER_SECOND, HOP_LENGTH, N_FRAMES, SAMPLE_RATE } from '../../audio/constants.js';
import type { Word } from '../types.js';
import { getEnd, defaultAlignmentHeads, addWordTimestamps, textTokenProbabilities, timingSequence, type FloatTensorLike, type TimedSegmentInput, type WordSplitter } from './timing.js';
import type { AudioFeatures } from './encoder.js';
import { pyRound } from '../../text/python.js';

/**
 * Which cross-attention heads follow the alignment: 'config' is generation_config.json's `alignment_heads`
 * (openai's table for the official checkpoints) and, where it has none, 'default'; 'default' is openai's
 * fallback for checkpoints outside its table (every head of the upper half of the decoder); or explicit
 * [layer, head] pairs.
 */
export type AlignmentHeadsOption = 'config' | 'default' | readonly (readonly [number, number])[];

/** One run of the timestamped decoder over a whole token sequence, without KV cache. */
export interface TimingPass {
  /** [tokens, vocab] row-major. */
  readonly logits: Float32Array;
  readonly vocabSize: number;
  /** `cross_attentions.{layer}`, [1, heads, tokens, frames] each, post-softmax. */
  readonly crossAttentions: readonly FloatTensorLike[];
}

/** What word timestamps need of a model (WhisperModel has it; scripted test models may not). */
export interface WordTimingModel {
  readonly decoderLayers: number;
  readonly decoderHeads: number;
  /** generation_config.json `alignment_heads`, when it has them. */
  readonly configAlignmentHeads: readonly (readonly [number, number])[] | undefined;
  /** Fails, naming the timestamped export, when the decoder has no `cross_attentions.{i}` outputs. */
  requireCrossAttentions(): void;
  timingPass(features: AudioFeatures, tokens: readonly number[]): Promise<TimingPass>;
}

/** The [layer, head] pairs `option` stands for, checked against the decoder's size. */
export function resolveAlignmentHeads(option: AlignmentHeadsOption, model: Pick<WordTimingModel, 'decoderLayers' | 'decoderHeads' | 'configAlignmentHeads'>): [number, number][] {
  let heads: readonly (readonly [number, number])[];
  if (option === 'default') heads = defaultAlignmentHeads(model.decoderLayers, model.decoderHeads);
  else if (option === 'config') heads = model.configAlignmentHeads ?? defaultAlignmentHeads(model.decoderLayers, model.decoderHeads);
  else heads = option;
  if (heads.length === 0) throw new MoxingError('BAD_ARGUMENT', 'alignmentHeads is empty: give [layer, head] pairs, "config" or "default"');
  for (const pair of heads) {
    const [layer, head] = pair;
    if (!Number.isInteger(layer) || !Number.isInteger(head) || layer < 0 || head < 0 || layer >= model.decoderLayers || head >= model.decoderHeads) {
      throw new MoxingError('BAD_ARGUMENT', `alignment head [${String(pair)}] is outside the decoder's ${model.decoderLayers} layers x ${model.decoderHeads} heads`);
    }
  }
  return heads.map(([l, h]) => [l, h]);
}

/** A window's segment while it is being timed: openai's segment dict before it joins the result. */
export interface WindowSegmentDraft {
  start: number;
  end: number;
  readonly tokens: readonly number[];
  words: Word[];
}

export interface WindowTiming {
  readonly model: WordTimingModel;
  readonly features: AudioFeatures;
  readonly heads: readonly (readonly [number, number])[];
  /** openai's `tokenizer.sot_sequence`: [sot, language, task] (no prompt). */
  readonly sotSequence: readonly number[];
  readonly noTimestamps: number;
  readonly eot: number;
  readonly splitToWordTokens: WordSplitter;
  /** Mel frames of audio in the window (openai `segment_size`). */
  readonly numFrames: number;
  /** The window's seek, in mel frames. */
  readonly seekFrames: number;
  readonly lastSpeechTimestamp: number;
  readonly prependPunctuations: string;
  readonly appendPunctuations: string;
}

/** openai `add_word_timestamps` on one window: sets each segment's words and its start/end in place. */
export async function timeWindowWords(segments: WindowSegmentDraft[], t: WindowTiming): Promise<void> {
  if (segments.length === 0) return;
  const textTokens = segments.flatMap((s) => s.tokens.filter((token) => token < t.eot));
  if (textTokens.length === 0) {
    for (const s of segments) s.words = [];
    return;
  }
  const sequence = timingSequence(t.sotSequence, t.noTimestamps, textTokens, t.eot);
  const pass = await t.model.timingPass(t.features, sequence);
  const inputs: TimedSegmentInput[] = segments.map((s) => ({ tokens: s.tokens, start: s.start, end: s.end }));
  const timed = addWordTimestamps(
    {
      segments: inputs,
      textTokenProbs: textTokenProbabilities(pass.logits, pass.vocabSize, t.sotSequence.length, textTokens, t.eot),
      crossAttentions: pass.crossAttentions,
      alignmentHeads: t.heads,
      sotLength: t.sotSequence.length,
      eot: t.eot,
      numFrames: t.numFrames,
      seekFrames: t.seekFrames,
      lastSpeechTimestamp: t.lastSpeechTimestamp,
      splitToWordTokens: t.splitToWordTokens,
    },
    { prependPunctuations: t.prependPunctuations, appendPunctuations: t.appendPunctuations },
  );
  timed.forEach((result, i) => {
    segments[i].start = result.start;
    segments[i].end = result.end;
    segments[i].words = result.words;
  });
}

/** The punctuation openai's hallucination check ignores (its prepend and append sets concatenated). */
export const HALLUCINATION_PUNCTUATION = '"\'“¿([{-"\'.。,，!！?？:：”)]}、';

/** openai `word_anomaly_score`: very short, very long or improbable words. */
export function wordAnomalyScore(word: Pick<Word, 'start' | 'end'> & { probability?: number }): number {
  const probability = word.probability ?? 0;
  const duration = word.end - word.start;
  let score = 0;
  if (probability < 0.15) score += 1;
  if (duration < 0.133) score += (0.133 - duration) * 15;
  if (duration > 2) score += duration - 2;
  return score;
}

/** openai `is_segment_anomaly`: the first 8 non-punctuation words look like a hallucination. */
export function isSegmentAnomaly(segment: { readonly words: readonly Word[] } | undefined): boolean {
  if (segment === undefined || segment.words.length === 0) return false;
  // Python `w not in punctuation` is a substring test on the string.
  const words = segment.words.filter((w) => !HALLUCINATION_PUNCTUATION.includes(w.word)).slice(0, 8);
  const score = words.reduce((sum, w) => sum + wordAnomalyScore(w), 0);
  return score >= 3 || score + 0.01 >= words.length;
}

export interface HallucinationWindow {
  /** `hallucination_silence_threshold`, seconds. */
  readonly threshold: number;
  /** Seek after the window as the loop has it so far, in mel frames. */
  readonly seek: number;
  /** The window's seek, in mel frames (openai `previous_seek`). */
  readonly previousSeek: number;
  /** Mel frames of audio in the window. */
  readonly segmentSize: number;
  readonly contentFrames: number;
  readonly singleTimestampEnding: boolean;
  readonly lastSpeechTimestamp: number;
}

/**
 * openai's "skip silence before possible hallucinations": the new seek, and how many of the window's
 * segments to keep (0 with `dropWindow` when the whole window is skipped, openai's `continue`).
 */
export function skipHallucinations(
  segments: readonly { readonly start: number; readonly end: number; readonly words: readonly Word[] }[],
  w: HallucinationWindow,
): { seek: number; keep: number; dropWindow: boolean } {
  const timeOffset = (w.previousSeek * HOP_LENGTH) / SAMPLE_RATE;
  const windowEndTime = ((w.previousSeek + N_FRAMES) * HOP_LENGTH) / SAMPLE_RATE;
  const segmentDuration = (w.segmentSize * HOP_LENGTH) / SAMPLE_RATE;
  const contentDuration = (w.contentFrames * HOP_LENGTH) / SAMPLE_RATE;
  let seek = w.seek;
  if (!w.singleTimestampEnding) {
    const lastWordEnd = getEnd(segments);
    if (lastWordEnd !== undefined && lastWordEnd > timeOffset) {
      seek = windowEndTime - lastWordEnd > w.threshold ? pyRound(lastWordEnd * FRAMES_PER_SECOND) : w.previousSeek + w.segmentSize;
    }
  }
  const first = segments.find((s) => s.words.length > 0);
  if (first !== undefined && isSegmentAnomaly(first)) {
    const gap = first.start - timeOffset;
    if (gap > w.threshold) return { seek: w.previousSeek + pyRound(gap * FRAMES_PER_SECOND), keep: 0, dropWindow: true };
  }
  let lastEnd = w.lastSpeechTimestamp;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.words.length === 0) continue;
    if (isSegmentAnomaly(segment)) {
      const next = segments.slice(i + 1).find((s) => s.words.length > 0);
      const nextStart = next !== undefined ? next.words[0].start : timeOffset + segmentDuration;
      const silenceBefore = segment.start - lastEnd > w.threshold || segment.start < w.threshold || segment.start - timeOffset < 2;
      const silenceAfter = nextStart - segment.end > w.threshold || isSegmentAnomaly(next) || windowEndTime - segment.end < 2;
      if (silenceBefore && silenceAfter) {
        seek = pyRound(Math.max(timeOffset + 1, segment.start) * FRAMES_PER_SECOND);
        if (contentDuration - segment.end < w.threshold) seek = w.contentFrames;
        return { seek, keep: i, dropWindow: false };
      }
    }
    lastEnd = segment.end;
  }
  return { seek, keep: segments.length, dropWindow: false };
}
