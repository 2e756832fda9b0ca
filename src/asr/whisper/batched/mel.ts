/**
 * The batched pipeline's front end, window by window: read each window's samples (`WindowReader` over a
 * chunk stream), pad it to 30 s and compute its log-mel (`melBatch`), one batch ahead of the model
 * (`aheadByOne`). The same code runs on the main thread and in the mel worker (batched/prefetch.ts), so both
 * give the very same floats.
 *
 * Imports are kept to the audio front end (no VAD, no ONNX Runtime): the worker loads this module.
 */
import { N_FRAMES, type MelBins } from '../../../audio/constants.js';
import { logMelSpectrogram, padOrTrim } from '../../../audio/mel.js';
import { MoxingError } from '../../../errors.js';

/** A cut of the original audio decoded as one Whisper window, in samples (`end` exclusive). */
export interface AudioWindow {
  readonly start: number;
  readonly end: number;
}

/** One batch of windows and their mel, laid out [windows.length, nMels, 3000]. */
export interface MelBatch {
  readonly windows: readonly AudioWindow[];
  readonly mel: Float32Array;
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

/** The samples of `window` cut from in-memory audio, as WindowReader gives them (zeros past the end). */
export function windowSamples(samples: Float32Array, window: AudioWindow): Float32Array {
  const out = new Float32Array(window.end - window.start);
  if (window.start < samples.length) out.set(samples.subarray(window.start, Math.min(window.end, samples.length)));
  return out;
}

/**
 * The mel of `windows`, [windows.length, nMels, 3000]: each window's samples from `read` (called in order),
 * padded or trimmed to 30 s as openai's `pad_or_trim`.
 */
export async function melBatch(
  windows: readonly AudioWindow[],
  nMels: MelBins,
  read: (window: AudioWindow, index: number) => Float32Array | Promise<Float32Array>,
): Promise<Float32Array> {
  const size = nMels * N_FRAMES;
  const mel = new Float32Array(windows.length * size);
  for (let i = 0; i < windows.length; i++) {
    const samples = await read(windows[i], i);
    mel.set(logMelSpectrogram(padOrTrim(samples), nMels).data, i * size);
  }
  return mel;
}

/**
 * The batches of `windows`, `batchSize` at a time, each one's `prepare` started as the previous one is
 * handed out: the next batch is prepared while the caller runs the model on this one, and never more than
 * one batch waits prepared (memory stays flat however long the input). Stopping the iteration early leaves
 * the batch in preparation to finish or fail unobserved (its owner closes the source).
 */
export async function* aheadByOne(
  windows: readonly AudioWindow[],
  batchSize: number,
  prepare: (batch: readonly AudioWindow[]) => Promise<Float32Array>,
): AsyncGenerator<MelBatch, void, undefined> {
  const batchAt = (first: number): readonly AudioWindow[] => windows.slice(first, first + batchSize);
  let next: Promise<Float32Array> | undefined = windows.length > 0 ? prepare(batchAt(0)) : undefined;
  for (let first = 0; next; first += batchSize) {
    const mel = await next;
    next = first + batchSize < windows.length ? prepare(batchAt(first + batchSize)) : undefined;
    // Awaited on the next turn, or never if the caller stops: a failure must not be an unhandled rejection.
    next?.catch(() => undefined);
    yield { windows: batchAt(first), mel };
  }
}
