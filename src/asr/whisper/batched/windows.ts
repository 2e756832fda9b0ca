/**
 * The windows of the batched pipeline and the audio under them, with memory flat in the input's length:
 *
 * - `mergeSpeechRegions` is WhisperX's `merge_chunks`: consecutive speech regions are grouped while the group
 *   spans at most 30 s of the original audio (the pauses between them included, so a window is one
 *   contiguous cut and its times map back by one offset); a region longer than the limit is cut into pieces.
 * - `findWindows` runs Silero VAD over a stream of the input (one pass, only the per-frame probabilities
 *   kept: 31 numbers a second) and returns the windows.
 * - `WindowReader` (batched/mel.ts) reads the windows' samples from a second stream of the input, holding
 *   only the chunks that overlap the window being read.
 */
import { N_SAMPLES, SAMPLE_RATE, SileroVad, speechRegions, type SpeechRegion, type VadOptions } from '../../../audio/index.js';
import type { AudioWindow } from './mel.js';

// Reading and mel live in batched/mel.ts, which the mel worker loads without the VAD and ONNX Runtime.
export { WindowReader, type AudioWindow } from './mel.js';

/** WhisperX `merge_chunks` over speech regions: windows of at most `maxSamples` (30 s) of the original audio. */
export function mergeSpeechRegions(regions: readonly SpeechRegion[], maxSamples: number = N_SAMPLES): AudioWindow[] {
  const pieces: SpeechRegion[] = [];
  for (const r of regions) {
    // The VAD already splits long speech at 30 s; this only guards other limits.
    for (let s = r.start; s < r.end; s += maxSamples) pieces.push({ start: s, end: Math.min(r.end, s + maxSamples) });
  }
  const windows: AudioWindow[] = [];
  if (pieces.length === 0) return windows;
  let start = pieces[0].start;
  let end = start;
  for (const piece of pieces) {
    if (piece.end - start > maxSamples && end > start) {
      windows.push({ start, end });
      start = piece.start;
    }
    end = piece.end;
  }
  windows.push({ start, end });
  return windows;
}

/** Consecutive 30 s windows over `totalSamples` (no VAD), the last one shorter. */
export function fixedWindows(totalSamples: number, size: number = N_SAMPLES): AudioWindow[] {
  const windows: AudioWindow[] = [];
  for (let s = 0; s < totalSamples; s += size) windows.push({ start: s, end: Math.min(totalSamples, s + size) });
  return windows;
}

export interface FoundWindows {
  readonly windows: AudioWindow[];
  readonly totalSamples: number;
  readonly speech: SpeechRegion[] | undefined;
}

/**
 * Counts the samples of `chunks` and, with `vad`, runs the VAD over them as they come; returns the windows.
 * Holds no audio beyond the chunk in hand.
 */
export async function findWindows(chunks: AsyncIterable<Float32Array>, vad: Required<VadOptions> | null, model?: SileroVad): Promise<FoundWindows> {
  let totalSamples = 0;
  if (!vad) {
    for await (const chunk of chunks) totalSamples += chunk.length;
    return { windows: fixedWindows(totalSamples), totalSamples, speech: undefined };
  }
  const stream = (model ?? (await SileroVad.load())).stream();
  const parts: Float32Array[] = [];
  let frames = 0;
  for await (const chunk of chunks) {
    totalSamples += chunk.length;
    const probs = await stream.push(chunk);
    parts.push(probs);
    frames += probs.length;
  }
  const tail = await stream.flush(true);
  parts.push(tail);
  const probs = new Float32Array(frames + tail.length);
  let at = 0;
  for (const p of parts) {
    probs.set(p, at);
    at += p.length;
  }
  const speech = speechRegions(probs, totalSamples, vad);
  return { windows: mergeSpeechRegions(speech), totalSamples, speech };
}

/** Seconds, rounded to the 10 ms of a mel frame. */
export function windowSeconds(samples: number): number {
  return Math.round((samples / SAMPLE_RATE) * 100) / 100;
}
