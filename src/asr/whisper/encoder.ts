/**
 * The Whisper encoder: one run per batch of 30 s mel windows, giving the audio features every decoder
 * step attends to.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { float32, type Tensor } from '../../runtime/index.js';
import { MoxingError } from '../../errors.js';
import type { WhisperDims } from './config.js';

/** Mel frames in one encoder window (30 s of 10 ms hops). */
export const WINDOW_FRAMES = 3000;

/** Encoder output for a batch of windows: last_hidden_state [batch, nAudioCtx, dModel]. */
export interface AudioFeatures {
  readonly batch: number;
  readonly tensor: Tensor;
}

export class WhisperEncoder {
  constructor(
    readonly session: InferenceSession,
    private readonly dims: WhisperDims,
  ) {
    for (const name of ['input_features']) {
      if (!session.inputNames.includes(name)) {
        throw new MoxingError('MODEL_INVALID', `the encoder model has no input "${name}" (inputs: ${session.inputNames.join(', ')}); it is not a Whisper encoder export`);
      }
    }
  }

  /** Encodes `batch` mel windows laid out as [batch, nMels, 3000] float32. */
  async encode(mel: Float32Array, batch = 1): Promise<AudioFeatures> {
    const expected = batch * this.dims.nMels * WINDOW_FRAMES;
    if (mel.length !== expected) {
      throw new MoxingError('BAD_ARGUMENT', `encoder input has ${mel.length} values; expected ${batch} x ${this.dims.nMels} x ${WINDOW_FRAMES} = ${expected} (pad or trim each window to 30 s)`);
    }
    const outputs = await this.session.run({ input_features: float32(mel, [batch, this.dims.nMels, WINDOW_FRAMES]) });
    const tensor = outputs.last_hidden_state ?? outputs[this.session.outputNames[0]];
    return { batch, tensor };
  }
}

/** Encoded windows of several batches as one batch, in order (the decoder then runs them together). */
export function concatFeatures(parts: readonly AudioFeatures[]): AudioFeatures {
  const [, positions, width] = parts[0].tensor.dims;
  const batch = parts.reduce((n, p) => n + p.batch, 0);
  const data = new Float32Array(batch * positions * width);
  let at = 0;
  for (const part of parts) {
    const values = part.tensor.data as Float32Array;
    data.set(values, at);
    at += values.length;
  }
  return { batch, tensor: float32(data, [batch, positions, width]) };
}
