/**
 * Running a CTC export over audio of any length: `input_values` [batch, samples] float32 → `logits`
 * [batch, frames, vocab]. Long audio is cut into overlapping chunks, as transformers' ASR pipeline does with
 * `chunk_length_s` / `stride_length_s`: chunk starts and strides are whole logit frames, and each chunk keeps
 * only its frames outside the overlap, so the kept frames tile the unchunked frame axis exactly.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../../errors.js';
import { float32, int64, loadSession, type RuntimeOptions } from '../../runtime/index.js';
import { framesForSamples, loadCtcConfig, type CtcModelConfig, type LoadCtcConfigOptions } from './config.js';

export interface CtcChunkOptions {
  /** Longest audio run through the model at once; longer input is chunked. @default 30 (seconds) */
  chunkLengthS: number;
  /** Context on each side of a chunk whose logits are dropped (transformers' default: chunk / 6). @default 5 (seconds) */
  strideLengthS: number;
}

export const DEFAULT_CTC_CHUNK: Readonly<CtcChunkOptions> = Object.freeze({ chunkLengthS: 30, strideLengthS: 5 });

/** Frame-level model output over the whole input. */
export interface CtcEmissions {
  /** [frames, vocabSize] row-major logits. */
  readonly logits: Float32Array;
  readonly frames: number;
  readonly vocabSize: number;
  /** Seconds per logit frame (0.02 for wav2vec2 at 16 kHz). */
  readonly frameSeconds: number;
}

/** A loaded CTC model: its configs and its ONNX session. */
export interface CtcModel {
  readonly config: CtcModelConfig;
  readonly session: InferenceSession;
}

export interface LoadCtcModelOptions extends LoadCtcConfigOptions, RuntimeOptions {}

/** Loads an export folder (configs + session, the session cached per process). */
export async function loadCtcModel(dir: string, options: LoadCtcModelOptions = {}): Promise<CtcModel> {
  const config = loadCtcConfig(dir, options);
  const session = await loadSession(config.modelPath, options);
  if (!session.inputNames.includes('input_values') || !session.outputNames.includes('logits')) {
    throw new MoxingError(
      'MODEL_INVALID',
      `${config.modelPath} is not a CTC export: expected input "input_values" and output "logits", ` +
        `found inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`,
    );
  }
  return { config, session };
}

/** transformers' `zero_mean_unit_var_norm`: (x - mean) / sqrt(var + 1e-7). */
export function zeroMeanUnitVariance(x: Float32Array): Float32Array {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i];
  mean /= x.length || 1;
  let variance = 0;
  for (let i = 0; i < x.length; i++) variance += (x[i] - mean) ** 2;
  variance /= x.length || 1;
  const scale = 1 / Math.sqrt(variance + 1e-7);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] - mean) * scale;
  return out;
}

/** Runs the model once on one input (padded with zeros to the conv stack's receptive field when shorter). */
export async function runCtc(model: CtcModel, samples: Float32Array): Promise<{ logits: Float32Array; frames: number; vocabSize: number }> {
  const { config, session } = model;
  let input = samples.length >= config.receptiveSamples ? samples : padTo(samples, config.receptiveSamples);
  if (config.doNormalize) input = zeroMeanUnitVariance(input);
  const feeds: Record<string, ReturnType<typeof float32>> = { input_values: float32(input, [1, input.length]) };
  if (session.inputNames.includes('attention_mask')) feeds.attention_mask = int64(new BigInt64Array(input.length).fill(1n), [1, input.length]);
  const out = await session.run(feeds);
  const logits = out.logits;
  if (!logits || logits.dims.length !== 3) {
    throw new MoxingError('MODEL_INVALID', `${config.modelPath}: "logits" must be [batch, frames, vocab], got [${logits?.dims.join(', ')}]`);
  }
  const vocabSize = logits.dims[2];
  if (config.vocab.language !== undefined && vocabSize !== config.vocab.tokens.length) {
    // MMS: the export carries one adapter and lm_head; another language's vocabulary would decode garbage
    throw new MoxingError(
      'MODEL_INVALID',
      `${config.modelPath} outputs ${vocabSize} labels but the "${config.vocab.language}" vocabulary of vocab.json has ` +
        `${config.vocab.tokens.length}: the export carries another language's adapter. Pass the language it was exported for.`,
    );
  }
  return { logits: logits.data as Float32Array, frames: logits.dims[1], vocabSize };
}

function padTo(samples: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(samples);
  return out;
}

/** One model input of a chunked run and the global frames it contributes. */
export interface ChunkPlan {
  readonly startSample: number;
  readonly endSample: number;
  /** Global frames [keepStart, keepEnd) taken from this chunk's logits. */
  readonly keepStart: number;
  readonly keepEnd: number;
}

/**
 * Chunk layout for `totalSamples`: chunks of `chunkLengthS` stepping by chunk − 2·stride (transformers'
 * `chunk_iter`), aligned to whole frames. Consecutive keep ranges meet exactly, covering every frame once.
 */
export function planChunks(totalSamples: number, config: Pick<CtcModelConfig, 'frameSamples' | 'convKernel' | 'convStride' | 'samplingRate'>, options: Partial<CtcChunkOptions> = {}): ChunkPlan[] {
  const chunkLengthS = options.chunkLengthS ?? DEFAULT_CTC_CHUNK.chunkLengthS;
  const strideLengthS = options.strideLengthS ?? DEFAULT_CTC_CHUNK.strideLengthS;
  const align = config.frameSamples;
  const chunk = Math.round((chunkLengthS * config.samplingRate) / align) * align;
  const stride = Math.round((strideLengthS * config.samplingRate) / align) * align;
  if (!(stride >= align) || !(chunk - 2 * stride >= align)) {
    throw new MoxingError(
      'BAD_ARGUMENT',
      `chunk length ${chunkLengthS} s and stride ${strideLengthS} s leave no audio between the strides: ` +
        `the stride must be at least one frame (${align / config.samplingRate} s) and less than half the chunk`,
    );
  }
  const totalFrames = framesForSamples(totalSamples, config.convKernel, config.convStride);
  if (totalSamples <= chunk) return [{ startSample: 0, endSample: totalSamples, keepStart: 0, keepEnd: totalFrames }];
  const step = chunk - 2 * stride;
  const plans: ChunkPlan[] = [];
  for (let start = 0; ; start += step) {
    const end = Math.min(start + chunk, totalSamples);
    const keepStart = start === 0 ? 0 : start / align + stride / align;
    plans.push({ startSample: start, endSample: end, keepStart, keepEnd: totalFrames });
    if (end >= totalSamples) break;
  }
  for (let k = 0; k + 1 < plans.length; k++) plans[k] = { ...plans[k], keepEnd: plans[k + 1].keepStart };
  return plans;
}

/** Logits over the whole audio, chunked when longer than `chunkLengthS`. */
export async function ctcEmissions(model: CtcModel, audio: Float32Array, options: Partial<CtcChunkOptions> = {}): Promise<CtcEmissions> {
  const { config } = model;
  if (audio.length === 0) throw new MoxingError('AUDIO_INVALID', 'the audio is empty: there is nothing to recognise');
  const frameSeconds = config.frameSamples / config.samplingRate;
  const plans = planChunks(audio.length, config, options);
  if (plans.length === 1) {
    const { logits, frames, vocabSize } = await runCtc(model, audio);
    return { logits, frames, vocabSize, frameSeconds };
  }
  const totalFrames = plans[plans.length - 1].keepEnd;
  let out: Float32Array | undefined;
  let vocabSize = 0;
  for (const plan of plans) {
    const run = await runCtc(model, audio.subarray(plan.startSample, plan.endSample));
    vocabSize = run.vocabSize;
    out ??= new Float32Array(totalFrames * vocabSize);
    const offset = plan.startSample / config.frameSamples;
    const localStart = plan.keepStart - offset;
    const localEnd = plan.keepEnd - offset;
    if (localEnd > run.frames) {
      throw new MoxingError('MODEL_INVALID', `${config.modelPath} gave ${run.frames} frames for ${plan.endSample - plan.startSample} samples; its conv stack does not match config.json's conv_kernel/conv_stride`);
    }
    out.set(run.logits.subarray(localStart * vocabSize, localEnd * vocabSize), plan.keepStart * vocabSize);
  }
  return { logits: out!, frames: totalFrames, vocabSize, frameSeconds };
}
