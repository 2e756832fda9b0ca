/**
 * faster-whisper's `get_speech_timestamps` (itself silero-vad's) over per-frame speech probabilities: a
 * hysteresis state machine that opens a region at `threshold`, closes it after `minSilenceMs` below
 * `negThreshold`, splits regions longer than `maxSpeechS` at their last real pause, drops short regions and pads
 * the rest. Pure: the model runs elsewhere (silero.ts), so this is tested on scripted probabilities too.
 */
import { SAMPLE_RATE } from '../constants.js';
import { resolveVadOptions, type VadOptions } from './options.js';

/** One speech region, in samples of the 16 kHz input (`end` exclusive). */
export interface SpeechRegion {
  readonly start: number;
  readonly end: number;
}

/** Samples per model frame at 16 kHz (silero v5 takes exactly 512). */
export const VAD_FRAME_SAMPLES = 512;

/** A pause must last this long to be a split point of an over-long region (silero's 98 ms). */
const MIN_SILENCE_AT_MAX_SPEECH_MS = 98;

/**
 * Speech regions from `probs[i]`, the speech probability of samples [512 i, 512 (i + 1)), for an input of
 * `totalSamples` samples.
 */
export function speechRegions(
  probs: ArrayLike<number>,
  totalSamples: number,
  options: Partial<VadOptions> = {},
): SpeechRegion[] {
  const o = resolveVadOptions(options);
  const sr = SAMPLE_RATE;
  const win = VAD_FRAME_SAMPLES;
  const minSpeech = (sr * o.minSpeechMs) / 1000;
  const pad = (sr * o.speechPadMs) / 1000;
  const maxSpeech = sr * o.maxSpeechS - win - 2 * pad;
  const minSilence = (sr * o.minSilenceMs) / 1000;
  const minSilenceAtMax = (sr * MIN_SILENCE_AT_MAX_SPEECH_MS) / 1000;

  const speeches: { start: number; end: number }[] = [];
  let triggered = false;
  let start = 0;
  // tempEnd: where the current pause began (0: none); prevEnd/nextStart: the last long pause, for splitting.
  let tempEnd = 0;
  let prevEnd = 0;
  let nextStart = 0;

  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    const at = win * i;
    if (p >= o.threshold && tempEnd) {
      tempEnd = 0;
      if (nextStart < prevEnd) nextStart = at;
    }
    if (p >= o.threshold && !triggered) {
      triggered = true;
      start = at;
      continue;
    }
    if (triggered && at - start > maxSpeech) {
      if (prevEnd) {
        speeches.push({ start, end: prevEnd });
        // Still in the pause that ended the split region: wait for speech; else the next region starts now.
        if (nextStart < prevEnd) triggered = false;
        else start = nextStart;
        prevEnd = nextStart = tempEnd = 0;
      } else {
        speeches.push({ start, end: at });
        prevEnd = nextStart = tempEnd = 0;
        triggered = false;
        continue;
      }
    }
    if (p < o.negThreshold && triggered) {
      if (!tempEnd) tempEnd = at;
      if (at - tempEnd > minSilenceAtMax) prevEnd = tempEnd;
      if (at - tempEnd < minSilence) continue;
      if (tempEnd - start > minSpeech) speeches.push({ start, end: tempEnd });
      prevEnd = nextStart = tempEnd = 0;
      triggered = false;
    }
  }
  if (triggered && totalSamples - start > minSpeech) speeches.push({ start, end: totalSamples });

  // Padding: a full pad each side, or half the gap when two regions are closer than two pads.
  for (let i = 0; i < speeches.length; i++) {
    const speech = speeches[i];
    if (i === 0) speech.start = Math.trunc(Math.max(0, speech.start - pad));
    if (i !== speeches.length - 1) {
      const next = speeches[i + 1];
      const gap = next.start - speech.end;
      if (gap < 2 * pad) {
        const half = Math.floor(gap / 2);
        speech.end += half;
        next.start = Math.trunc(Math.max(0, next.start - half));
      } else {
        speech.end = Math.trunc(Math.min(totalSamples, speech.end + pad));
        next.start = Math.trunc(Math.max(0, next.start - pad));
      }
    } else {
      speech.end = Math.trunc(Math.min(totalSamples, speech.end + pad));
    }
  }
  return speeches;
}
