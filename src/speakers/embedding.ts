/**
 * Speaker embedding models in their sherpa-onnx ONNX exports: WeSpeaker (ResNet: `feats` [B, T, 80] → `embs`
 * [B, 256]) and 3D-Speaker (CAM++: `x` [N, T, 80] → `embedding` [N, 192]). The metadata says how to feed them:
 * `framework`, `sample_rate`, `normalize_samples` (0: samples in int16 range, as WeSpeaker trains), `output_dim`,
 * and `feature_normalize_type` (3D-Speaker: subtract the mean over frames). Front end: kaldi-native-fbank as
 * sherpa-onnx configures it (80 bins, centred frames, 20 Hz to Nyquist - 400 Hz).
 */
import type * as ort from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { float32, loadSession, type RuntimeOptions } from '../runtime/index.js';
import { DEFAULT_FBANK, kaldiFbank, type FbankOptions } from './fbank.js';
import { intField, readOnnxMetadata } from './metadata.js';

/** sherpa-onnx's FeatureExtractorConfig defaults, which it uses for every speaker embedding model. */
export const SHERPA_FBANK: Readonly<FbankOptions> = Object.freeze({ ...DEFAULT_FBANK, snipEdges: false, lowFreq: 20, highFreq: -400 });

export type EmbeddingFramework = 'wespeaker' | '3d-speaker';

export interface EmbeddingMetadata {
  readonly framework: EmbeddingFramework;
  readonly sampleRate: number;
  readonly outputDim: number;
  /** false: samples are scaled to the int16 range before the fbank. */
  readonly normalizeSamples: boolean;
  /** '' or 'global-mean'. */
  readonly featureNormalizeType: string;
}

export interface EmbeddingModel {
  readonly path: string;
  readonly metadata: EmbeddingMetadata;
  /** The fbank frames `samples` samples give (0: too short to embed). */
  frames(samples: number): number;
  /** The embedding of 16 kHz samples; undefined when the model answers NaN. */
  embed(samples: Float32Array): Promise<Float32Array | undefined>;
}

/** Loads an embedding export, checking its metadata and its input and output. */
export async function loadEmbeddingModel(path: string, runtime: RuntimeOptions = {}): Promise<EmbeddingModel> {
  const raw = await readOnnxMetadata(path);
  const what = `speaker embedding model ${path}`;
  const framework = raw.framework;
  if (framework !== 'wespeaker' && framework !== '3d-speaker') {
    throw new MoxingError('MODEL_INVALID', `${what}: metadata "framework" is ${framework === undefined ? 'missing' : `"${framework}"`}, expected "wespeaker" or "3d-speaker"`);
  }
  const normalize = intField(raw, 'normalize_samples', what);
  const metadata: EmbeddingMetadata = {
    framework,
    sampleRate: intField(raw, 'sample_rate', what),
    outputDim: intField(raw, 'output_dim', what),
    normalizeSamples: normalize !== 0,
    featureNormalizeType: raw.feature_normalize_type ?? '',
  };
  if (metadata.sampleRate !== 16000) throw new MoxingError('MODEL_INVALID', `${what}: sample_rate ${metadata.sampleRate}, only 16000 is supported`);
  if (!(metadata.outputDim > 0)) throw new MoxingError('MODEL_INVALID', `${what}: output_dim must be positive`);
  if (metadata.featureNormalizeType !== '' && metadata.featureNormalizeType !== 'global-mean') {
    throw new MoxingError('MODEL_INVALID', `${what}: feature_normalize_type "${metadata.featureNormalizeType}" is not supported (only global-mean)`);
  }
  const session = await loadSession(path, runtime);
  const bins = checkEmbeddingIo(session, metadata, what);
  const fbank: FbankOptions = { ...SHERPA_FBANK, numMelBins: bins, scale: metadata.normalizeSamples ? 1 : 32768 };
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  return {
    path,
    metadata,
    frames: (samples) => Math.floor((samples + 80) / 160),
    async embed(samples) {
      const features = kaldiFbank(samples, fbank);
      if (features.frames === 0) throw new MoxingError('BAD_ARGUMENT', `${what}: ${samples.length} samples are too short to embed`);
      if (metadata.featureNormalizeType === 'global-mean') subtractMeanOverFrames(features.data, features.frames, bins);
      const result = await session.run({ [inputName]: float32(features.data, [1, features.frames, bins]) });
      const y = result[outputName];
      if (y.dims.length !== 2 || y.dims[1] !== metadata.outputDim) {
        throw new MoxingError('MODEL_INVALID', `${what}: output [${y.dims.join(', ')}], expected [N, ${metadata.outputDim}] (output_dim)`);
      }
      const embedding = Float32Array.from((y.data as Float32Array).subarray(0, metadata.outputDim));
      return embedding.some(Number.isNaN) ? undefined : embedding;
    },
  };
}

function subtractMeanOverFrames(data: Float32Array, frames: number, bins: number): void {
  for (let b = 0; b < bins; b++) {
    let sum = 0;
    for (let t = 0; t < frames; t++) sum += data[t * bins + b];
    const mean = Math.fround(sum / frames);
    for (let t = 0; t < frames; t++) data[t * bins + b] -= mean;
  }
}

/** The fbank bins the input takes; a wrong input shape or output width is a MODEL_INVALID error that says so. */
function checkEmbeddingIo(session: ort.InferenceSession, metadata: EmbeddingMetadata, what: string): number {
  if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
    throw new MoxingError('MODEL_INVALID', `${what}: expected one input (fbank [N, T, 80]) and one output ([N, ${metadata.outputDim}]), found inputs ${session.inputNames.join(', ')} and outputs ${session.outputNames.join(', ')}`);
  }
  const input = session.inputMetadata[0];
  let bins = 80;
  if (input.isTensor) {
    const shape = input.shape;
    const last = shape[2];
    if (input.type !== 'float32' || shape.length !== 3 || (typeof last === 'number' && last !== 80)) {
      throw new MoxingError('MODEL_INVALID', `${what}: input ${input.name} is ${input.type} [${shape.join(', ')}], expected float32 fbank [N, T, 80]`);
    }
    bins = typeof last === 'number' ? last : 80;
  }
  const output = session.outputMetadata[0];
  if (output.isTensor) {
    const width = output.shape[1];
    if (output.shape.length !== 2 || (typeof width === 'number' && width !== metadata.outputDim)) {
      throw new MoxingError('MODEL_INVALID', `${what}: output ${output.name} is [${output.shape.join(', ')}], expected [N, ${metadata.outputDim}] (output_dim)`);
    }
  }
  return bins;
}
