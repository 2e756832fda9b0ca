/**
 * How openai/whisper `transcribe()` cuts one decoded 30 s window into segments and where the next window
 * starts: segments close at each pair of consecutive timestamp tokens; an unfinished last segment is
 * dropped and decoding resumes at its opening timestamp, unless the window ends on a single timestamp
 * (nothing was said after it), in which case the whole window is consumed.
 */
import { HOP_LENGTH, SAMPLE_RATE } from '../../audio/constants.js';

export interface WindowSegment {
  /** Seconds from the start of the audio. */
  readonly start: number;
  readonly end: number;
  /** The segment's tokens, timestamps included. */
  readonly tokens: readonly number[];
}

export interface WindowCut {
  readonly segments: readonly WindowSegment[];
  /** Mel frames to advance `seek` by. */
  readonly seekFrames: number;
  /** The window ended on one timestamp token after text. */
  readonly singleTimestampEnding: boolean;
}

export interface WindowGeometry {
  /** Seconds at the window's first frame (seek * 10 ms). */
  readonly timeOffset: number;
  /** Frames of real content in the window (<= N_FRAMES, 3000). */
  readonly segmentFrames: number;
  /** Mel frames per timestamp step: 3000 / nAudioCtx = 2. */
  readonly inputStride: number;
  /** Seconds per timestamp step: inputStride * 10 ms = 0.02. */
  readonly timePrecision: number;
}

/** Cuts the sampled `tokens` of one window (no initial tokens, no EOT) into segments. */
export function cutWindow(tokens: readonly number[], timestampBegin: number, g: WindowGeometry): WindowCut {
  const isTs = tokens.map((t) => t >= timestampBegin);
  const n = tokens.length;
  const singleTimestampEnding = n >= 2 && !isTs[n - 2] && isTs[n - 1];
  const consecutive: number[] = [];
  for (let i = 1; i < n; i++) if (isTs[i - 1] && isTs[i]) consecutive.push(i);

  const segments: WindowSegment[] = [];
  if (consecutive.length > 0) {
    const slices = singleTimestampEnding ? [...consecutive, n] : consecutive;
    let lastSlice = 0;
    for (const current of slices) {
      const sliced = tokens.slice(lastSlice, current);
      const startPos = sliced[0] - timestampBegin;
      const endPos = sliced[sliced.length - 1] - timestampBegin;
      segments.push({ start: g.timeOffset + startPos * g.timePrecision, end: g.timeOffset + endPos * g.timePrecision, tokens: sliced });
      lastSlice = current;
    }
    if (singleTimestampEnding) return { segments, seekFrames: g.segmentFrames, singleTimestampEnding };
    // Ignore the unfinished segment and resume at the last closing timestamp.
    const lastTimestampPos = tokens[lastSlice - 1] - timestampBegin;
    return { segments, seekFrames: lastTimestampPos * g.inputStride, singleTimestampEnding };
  }

  // No closed pair: one segment for the window, ending at its last timestamp when there is a non-zero one.
  let duration = (g.segmentFrames * HOP_LENGTH) / SAMPLE_RATE;
  let lastTs = -1;
  for (let i = n - 1; i >= 0; i--) {
    if (isTs[i]) {
      lastTs = tokens[i];
      break;
    }
  }
  if (lastTs >= 0 && lastTs !== timestampBegin) duration = (lastTs - timestampBegin) * g.timePrecision;
  segments.push({ start: g.timeOffset, end: g.timeOffset + duration, tokens: [...tokens] });
  return { segments, seekFrames: g.segmentFrames, singleTimestampEnding };
}
