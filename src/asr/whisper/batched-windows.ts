/**
 * The windows of the batched pipeline and the audio under them, with memory flat in the input's length:
 *
 * - `mergeSpeechRegions` is WhisperX's `merge_chunks`: consecutive speech regions are grouped while the group
 *   spans at most 30 s of the original audio (the pauses between them included, so a window is one
 *   contiguous cut and its times map back by one offset); a region longer than the limit is cut into pieces.
 * - `findWindows` runs Silero VAD over a stream of the input (one pass, only the per-frame probabilities
 *   kept: 31 numbers a second) and returns the windows.
 * - `WindowReader` reads the windows' samples from a second stream of the input, holding only the chunks
 *   that overlap the window being read.
 */
import { N_SAMPLES, SAMPLE_RATE, SileroVad, DEFAULT_VAD_RUNTIME, speechRegions, type SpeechRegion, type VadOptions } from '../../audio/index.js';
import { MoxingError } from '../../errors.js';

/** A cut of the original audio decoded as one Whisper window, in samples (`end` exclusive). */
export interface AudioWindow {
  readonly start: number;
  readonly end: number;
}

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
  const stream = (model ?? (await SileroVad.load(DEFAULT_VAD_RUNTIME))).stream();
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

/** Reads ordered, non-overlapping windows from a chunk stream, dropping chunks once behind the reader. */
export class WindowReader {
  private readonly held: Float32Array[] = [];
  /** Sample offset of held[0]. */
  private heldStart = 0;
  private heldEnd = 0;
  private done = false;
  private readonly iterator: AsyncIterator<Float32Array>;

  constructor(chunks: AsyncIterable<Float32Array>) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  /** The samples [start, end) (zero past the input's end); `start` must not go back. */
  async read(window: AudioWindow): Promise<Float32Array> {
    if (window.start < this.heldStart) throw new MoxingError('INTERNAL', `WindowReader: window at ${window.start} is before ${this.heldStart}`);
    while (this.heldEnd < window.end && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else {
        this.held.push(next.value);
        this.heldEnd += next.value.length;
      }
    }
    while (this.held.length > 0 && this.heldStart + this.held[0].length <= window.start) {
      this.heldStart += (this.held.shift() as Float32Array).length;
    }
    const out = new Float32Array(window.end - window.start);
    let at = this.heldStart;
    for (const chunk of this.held) {
      const from = Math.max(window.start, at);
      const to = Math.min(window.end, at + chunk.length);
      if (to > from) out.set(chunk.subarray(from - at, to - at), from - window.start);
      at += chunk.length;
      if (at >= window.end) break;
    }
    return out;
  }

  /** Stops the underlying stream (closes the file or ffmpeg). */
  async close(): Promise<void> {
    if (!this.done) await this.iterator.return?.();
    this.done = true;
  }
}

/** Seconds, rounded to the 10 ms of a mel frame. */
export function windowSeconds(samples: number): number {
  return Math.round((samples / SAMPLE_RATE) * 100) / 100;
}
