/**
 * pyannote segmentation-3.0 in its sherpa-onnx ONNX export: `x` [N, 1, window] → [N, frames, classes]
 * log-probabilities over the powerset of local speakers (silence, each speaker, each pair). The window, frame
 * step and powerset size come from the export's metadata, which is checked before anything runs.
 */
import type * as ort from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { float32, loadSession, type RuntimeOptions } from '../runtime/index.js';
import { intField, readOnnxMetadata } from './metadata.js';

export interface SegmentationMetadata {
  readonly sampleRate: number;
  /** Samples per model window (160000: 10 s). */
  readonly windowSize: number;
  /** Samples covered by one output frame (991) and between frames (270). */
  readonly receptiveFieldSize: number;
  readonly receptiveFieldShift: number;
  /** Local speakers per window (3), speakers per powerset class at most (2), classes (7). */
  readonly numSpeakers: number;
  readonly powersetMaxClasses: number;
  readonly numClasses: number;
}

export interface SegmentationModel {
  readonly path: string;
  readonly metadata: SegmentationMetadata;
  /** Row-major [classes][speakers] 0/1 map of each powerset class. */
  readonly powerset: Uint8Array;
  /** Multilabel activity per chunk: [frames × numSpeakers] 0/1, by the most likely powerset class per frame. */
  segment(chunks: readonly Float32Array[]): Promise<Uint8Array[]>;
}

/** pyannote's Powerset mapping: class 0 is silence, then each speaker, then each pair (in order). */
export function powersetMapping(numSpeakers: number, maxClasses: number, numClasses: number): Uint8Array {
  const map = new Uint8Array(numClasses * numSpeakers);
  let k = 1;
  for (let size = 1; size <= maxClasses; size++) {
    if (size > 2) throw new MoxingError('MODEL_INVALID', `segmentation: powerset_max_classes ${maxClasses} is not supported (at most 2)`);
    for (let a = 0; a < numSpeakers; a++) {
      if (size === 1) {
        map[k++ * numSpeakers + a] = 1;
        continue;
      }
      for (let b = a + 1; b < numSpeakers; b++, k++) {
        map[k * numSpeakers + a] = 1;
        map[k * numSpeakers + b] = 1;
      }
    }
  }
  if (k !== numClasses) throw new MoxingError('MODEL_INVALID', `segmentation: ${numSpeakers} speakers and pairs make ${k} powerset classes, the metadata says num_classes ${numClasses}`);
  return map;
}

/** Loads a segmentation export, checking its metadata and its input and output. */
export async function loadSegmentationModel(path: string, runtime: RuntimeOptions = {}): Promise<SegmentationModel> {
  const raw = await readOnnxMetadata(path);
  const what = `segmentation model ${path}`;
  const metadata: SegmentationMetadata = {
    sampleRate: intField(raw, 'sample_rate', what),
    windowSize: intField(raw, 'window_size', what),
    receptiveFieldSize: intField(raw, 'receptive_field_size', what),
    receptiveFieldShift: intField(raw, 'receptive_field_shift', what),
    numSpeakers: intField(raw, 'num_speakers', what),
    powersetMaxClasses: intField(raw, 'powerset_max_classes', what),
    numClasses: intField(raw, 'num_classes', what),
  };
  if (metadata.sampleRate !== 16000) throw new MoxingError('MODEL_INVALID', `${what}: sample_rate ${metadata.sampleRate}, only 16000 is supported`);
  if (!(metadata.windowSize > 0 && metadata.receptiveFieldShift > 0 && metadata.numSpeakers > 0)) {
    throw new MoxingError('MODEL_INVALID', `${what}: window_size, receptive_field_shift and num_speakers must be positive`);
  }
  const powerset = powersetMapping(metadata.numSpeakers, metadata.powersetMaxClasses, metadata.numClasses);
  const session = await loadSession(path, runtime);
  checkSegmentationIo(session, metadata, what);
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const { numSpeakers, numClasses, windowSize } = metadata;
  return {
    path,
    metadata,
    powerset,
    async segment(chunks) {
      const out: Uint8Array[] = [];
      const batch = 8;
      for (let at = 0; at < chunks.length; at += batch) {
        const group = chunks.slice(at, at + batch);
        const data = new Float32Array(group.length * windowSize);
        group.forEach((c, i) => data.set(c, i * windowSize));
        const result = await session.run({ [inputName]: float32(data, [group.length, 1, windowSize]) });
        const y = result[outputName];
        const [, frames, classes] = y.dims;
        if (y.dims.length !== 3 || classes !== numClasses) {
          throw new MoxingError('MODEL_INVALID', `${what}: output [${y.dims.join(', ')}], expected [N, frames, ${numClasses}]`);
        }
        const values = y.data as Float32Array;
        for (let i = 0; i < group.length; i++) {
          const labels = new Uint8Array(frames * numSpeakers);
          for (let f = 0; f < frames; f++) {
            const row = (i * frames + f) * classes;
            // Eigen's maxCoeff: the first of equal maxima
            let best = 0;
            for (let c = 1; c < classes; c++) if (values[row + c] > values[row + best]) best = c;
            labels.set(powerset.subarray(best * numSpeakers, (best + 1) * numSpeakers), f * numSpeakers);
          }
          out.push(labels);
        }
      }
      return out;
    },
  };
}

function checkSegmentationIo(session: ort.InferenceSession, metadata: SegmentationMetadata, what: string): void {
  if (session.inputNames.length !== 1 || session.outputNames.length < 1) {
    throw new MoxingError('MODEL_INVALID', `${what}: expected one input (x [N, 1, samples]), found ${session.inputNames.join(', ')}`);
  }
  const input = session.inputMetadata[0];
  if (input.isTensor) {
    const shape = input.shape;
    const fixed = (d: number | string | undefined, want: number) => typeof d !== 'number' || d === want || d < 0;
    if (input.type !== 'float32' || shape.length !== 3 || !fixed(shape[1], 1) || !fixed(shape[2], metadata.windowSize)) {
      throw new MoxingError('MODEL_INVALID', `${what}: input ${input.name} is ${input.type} [${shape.join(', ')}], expected float32 [N, 1, ${metadata.windowSize}]`);
    }
  }
}
