/**
 * Hand-written speaker models in the exact I/O layout of the real sherpa-onnx exports, for the diarization tests.
 * No trained speaker model can be downloaded here; these compute something real from the audio instead of being
 * trained, so that different espeak-ng voices come out as different speakers:
 *
 * - `sherpa-onnx-pyannote-segmentation-3-0/model.onnx` (pyannote segmentation-3.0 as k2-fsa exports it): input
 *   `x` [N, 1, T] float32 → output `y` [N, frames, 7] log-probabilities over pyannote's powerset classes
 *   (silence, 3 single speakers, 3 pairs), 589 frames for 10 s, with the export's metadata (window_size 160000,
 *   receptive_field_size 991, receptive_field_shift 270, num_speakers 3, powerset_max_classes 2, num_classes 7...).
 *   Inside: a 991-sample Hann-windowed DFT at 32 log-spaced frequencies every 270 samples, energy-based speech
 *   activity, and a seeded random projection of the (calibrated, smoothed) log spectral shape that picks the
 *   local speaker; a pair class wins where two local speakers both score high.
 * - `wespeaker_en_voxceleb_resnet34.onnx` (`feats` [B, T, 80] → `embs` [B, 256]) and
 *   `3dspeaker_speech_campplus_sv_en_voxceleb_16k.onnx` (`x` [N, T, 80] → `embedding` [N, 192]), with the metadata
 *   the sherpa-onnx scripts write (framework, sample_rate, output_dim, normalize_samples, language, and
 *   feature_normalize_type global-mean for 3D-Speaker). Inside: per-bin mean and deviation of the loudness-
 *   normalised fbank, minus their average over espeak-ng speech (measured on shared/audio/dev), through a seeded
 *   random projection.
 *
 * The calibration constants are measured on ../shared/audio/dev/single at generation time.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAudio } from '../../src/audio/index.js';
import { kaldiFbank } from '../../src/speakers/fbank.js';
import { SHERPA_FBANK } from '../../src/speakers/embedding.js';
import { generatedDir } from './generated-dir.js';
import { GraphBuilder, Rng, attr, modelProto, saveModel, type ModelProto } from './onnx-builder.js';
import { TEST_MODELS_DIR } from './whisper.js';

const SHARED_SINGLE = new URL('../../../shared/audio/dev/single/', import.meta.url);

export const SEGMENTATION_DIR = 'sherpa-onnx-pyannote-segmentation-3-0';
export const SEGMENTATION_FILE = 'model.onnx';
export const WESPEAKER_FILE = 'wespeaker_en_voxceleb_resnet34.onnx';
export const CAMPPLUS_FILE = '3dspeaker_speech_campplus_sv_en_voxceleb_16k.onnx';

const WINDOW = 160000;
const RF_SIZE = 991;
const RF_SHIFT = 270;
const BANDS = 32;
const SMOOTH = 9;

export interface SpeakerModelsSpec {
  seed: number;
  /** Weight of the spectral-shape score against the speech-activity term. */
  speakerGain: number;
  /** Penalty of a pair class (overlap) against the best single speaker. */
  overlapPenalty: number;
  /** Frames (of 16.875 ms) over which the spectral shape is averaged, weighted by speech activity. */
  speakerFrames: number;
}

export const TEST_SPEAKER_MODELS: Readonly<SpeakerModelsSpec> = Object.freeze({ seed: 7, speakerGain: 3, overlapPenalty: 6, speakerFrames: 121 });

function bandFrequencies(): number[] {
  return Array.from({ length: BANDS }, (_, b) => 100 * Math.pow(40, b / (BANDS - 1)));
}

/** [2·BANDS, 1, RF_SIZE]: Hann-windowed cosines then sines. */
function dftKernels(): Float32Array {
  const k = new Float32Array(2 * BANDS * RF_SIZE);
  bandFrequencies().forEach((f, b) => {
    for (let t = 0; t < RF_SIZE; t++) {
      const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * t) / (RF_SIZE - 1));
      k[b * RF_SIZE + t] = hann * Math.cos((2 * Math.PI * f * t) / 16000);
      k[(BANDS + b) * RF_SIZE + t] = hann * Math.sin((2 * Math.PI * f * t) / 16000);
    }
  });
  return k;
}

/** The segmentation model's per-frame log band energies, in JS (for calibration): [frames][BANDS]. */
function logBands(audio: Float32Array, kernels: Float32Array): Float64Array[] {
  const frames = audio.length < RF_SIZE ? 0 : 1 + Math.floor((audio.length - RF_SIZE) / RF_SHIFT);
  const out: Float64Array[] = [];
  for (let f = 0; f < frames; f++) {
    const row = new Float64Array(BANDS);
    for (let b = 0; b < BANDS; b++) {
      let c = 0;
      let s = 0;
      for (let t = 0; t < RF_SIZE; t++) {
        const x = audio[f * RF_SHIFT + t];
        c += x * kernels[b * RF_SIZE + t];
        s += x * kernels[(BANDS + b) * RF_SIZE + t];
      }
      row[b] = c * c + s * s;
    }
    out.push(row);
  }
  return out;
}

interface Calibration {
  /** Mean log spectral shape of speech frames (segmentation). */
  shape: Float32Array;
  /** Speech threshold on the log total band energy. */
  threshold: number;
  /** Mean [per-bin mean, per-bin deviation] statistics of the embeddings' input, per framework. */
  wespeaker: Float32Array;
  campplus: Float32Array;
}

async function calibrate(): Promise<Calibration> {
  const dir = SHARED_SINGLE.pathname;
  const clips = readdirSync(dir).filter((f) => f.endsWith('.wav')).sort().filter((_, i) => i % 6 === 0);
  const kernels = dftKernels();
  const shape = new Float64Array(BANDS);
  const louds: number[] = [];
  let speechFrames = 0;
  const stats = { wespeaker: new Float64Array(160), campplus: new Float64Array(160) };
  for (const clip of clips) {
    const audio = await decodeAudio(join(dir, clip));
    const rows = logBands(audio, kernels);
    const loud = rows.map((r) => Math.log(r.reduce((a, b) => a + b, 0) + 1e-8));
    const peak = Math.max(...loud);
    rows.forEach((r, f) => {
      if (loud[f] < peak - 6) return;
      louds.push(loud[f]);
      const logs = Array.from(r, (e) => Math.log(e + 1e-8));
      const mean = logs.reduce((a, b) => a + b, 0) / BANDS;
      logs.forEach((v, b) => (shape[b] += v - mean));
      speechFrames++;
    });
    for (const framework of ['wespeaker', 'campplus'] as const) {
      const fb = kaldiFbank(audio, { ...SHERPA_FBANK, scale: framework === 'wespeaker' ? 32768 : 1 });
      const v = embeddingStatistics(fb.data, fb.frames, framework === 'campplus');
      v.forEach((x, i) => (stats[framework][i] += x / clips.length));
    }
  }
  louds.sort((a, b) => a - b);
  return {
    shape: Float32Array.from(shape, (v) => v / speechFrames),
    threshold: louds[Math.floor(louds.length / 2)] - 7,
    wespeaker: Float32Array.from(stats.wespeaker),
    campplus: Float32Array.from(stats.campplus),
  };
}

/** What the embedding graph computes before its projection, in JS: [per-bin mean, per-bin deviation]. */
function embeddingStatistics(fbank: Float32Array, frames: number, globalMean: boolean): Float64Array {
  const x = Float64Array.from(fbank);
  if (globalMean) {
    for (let b = 0; b < 80; b++) {
      let m = 0;
      for (let t = 0; t < frames; t++) m += x[t * 80 + b];
      for (let t = 0; t < frames; t++) x[t * 80 + b] -= m / frames;
    }
  }
  for (let t = 0; t < frames; t++) {
    let m = 0;
    for (let b = 0; b < 80; b++) m += x[t * 80 + b];
    for (let b = 0; b < 80; b++) x[t * 80 + b] -= m / 80;
  }
  const v = new Float64Array(160);
  for (let b = 0; b < 80; b++) {
    let m = 0;
    for (let t = 0; t < frames; t++) m += x[t * 80 + b];
    m /= frames;
    let s = 0;
    for (let t = 0; t < frames; t++) s += (x[t * 80 + b] - m) ** 2;
    v[b] = m;
    v[80 + b] = Math.sqrt(s / frames);
  }
  return v;
}

function withMetadata(model: ModelProto, metadata: Record<string, string | number>): ModelProto {
  return { ...model, metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value: String(value) })) };
}

function segmentationModel(spec: SpeakerModelsSpec, cal: Calibration): ModelProto {
  const g = new GraphBuilder('torch_jit');
  const rng = new Rng(spec.seed).fork('segmentation');
  const x = g.input('x', 'float32', ['N', 1, 'T']);
  const w = g.initializer('sincnet.dft', 'float32', [2 * BANDS, 1, RF_SIZE], dftKernels());
  const conv = g.op('Conv', [x, w], { kernel_shape: attr.ints([RF_SIZE]), strides: attr.ints([RF_SHIFT]) }); // [N, 2B, F]
  const squared = g.op('Mul', [conv, conv]);
  const parts = g.op('Reshape', [squared, g.int64s([0, 2, BANDS, -1])]);
  const energy = g.op('ReduceSum', [parts, g.int64s([1])], { keepdims: attr.int(0) }); // [N, B, F]
  const logs = g.op('Log', [g.op('Add', [energy, g.float(1e-8)])]);
  const total = g.op('ReduceSum', [energy, g.int64s([1])], { keepdims: attr.int(1) }); // [N, 1, F]
  const loud = g.op('Log', [g.op('Add', [total, g.float(1e-8)])]);
  const centred = g.op('Sub', [logs, g.op('ReduceMean', [logs], { axes: attr.ints([1]), keepdims: attr.int(1) })]);
  const calShape = g.initializer('calibration.shape', 'float32', [1, BANDS, 1], cal.shape);
  const pool = (v: string, k = SMOOTH) => g.op('AveragePool', [v], { kernel_shape: attr.ints([k]), pads: attr.ints([k >> 1, k >> 1]), count_include_pad: attr.int(0) });
  const speech = g.op('Sub', [pool(loud), g.float(cal.threshold)]); // [N, 1, F]
  // the voice is what the spectrum looks like over about a second of speech: average it, weighted by activity
  const activity = g.op('Sigmoid', [speech]);
  const weighted = pool(g.op('Mul', [g.op('Sub', [centred, calShape]), activity]), spec.speakerFrames);
  const shape = g.op('Div', [weighted, g.op('Add', [pool(activity, spec.speakerFrames), g.float(1e-3)])]);
  const projection = rng.normal(3 * BANDS, 1 / Math.sqrt(BANDS));
  const r = g.initializer('classifier.projection', 'float32', [3, BANDS], projection);
  const scores = g.op('Mul', [g.op('MatMul', [r, shape]), g.float(spec.speakerGain)]); // [N, 3, F]
  const single = g.op('Add', [scores, speech]);
  const pick = (i: number) => g.op('Slice', [scores, g.int64s([i]), g.int64s([i + 1]), g.int64s([1])]);
  const s = [pick(0), pick(1), pick(2)];
  const pairs = [
    [0, 1],
    [0, 2],
    [1, 2],
  ].map(([i, j]) => g.op('Sub', [g.op('Add', [g.op('Add', [s[i], s[j]]), speech]), g.float(spec.overlapPenalty * spec.speakerGain)]));
  const silence = g.op('Mul', [speech, g.float(0)]);
  const logits = g.op('Concat', [silence, single, ...pairs], { axis: attr.int(1) }); // [N, 7, F]
  const y = g.op('LogSoftmax', [g.op('Transpose', [logits], { perm: attr.ints([0, 2, 1]) })], { axis: attr.int(-1) });
  g.output(y, 'float32', ['N', 'T', 7], 'y');
  return withMetadata(modelProto(g.build(), { opset: 13 }), {
    num_speakers: 3,
    powerset_max_classes: 2,
    num_classes: 7,
    sample_rate: 16000,
    window_size: WINDOW,
    receptive_field_size: RF_SIZE,
    receptive_field_shift: RF_SHIFT,
    model_type: 'pyannote-segmentation-3.0',
    version: '1',
    model_author: 'moxing test model (not pyannote-audio)',
    maintainer: 'k2-fsa',
    url_1: 'https://huggingface.co/pyannote/segmentation-3.0',
    url_2: 'https://huggingface.co/csukuangfj/pyannote-models/tree/main/segmentation-3.0',
    license: 'https://huggingface.co/pyannote/segmentation-3.0/blob/main/LICENSE',
  });
}

function embeddingModel(spec: SpeakerModelsSpec, framework: 'wespeaker' | '3d-speaker', cal: Float32Array): ModelProto {
  const wespeaker = framework === 'wespeaker';
  const dim = wespeaker ? 256 : 192;
  const [input, output, batch, time] = wespeaker ? ['feats', 'embs', 'B', 'T'] : ['x', 'embedding', 'N', 'T'];
  const g = new GraphBuilder('torch_jit');
  const x = g.input(input, 'float32', [batch, time, 80]);
  const mean = (v: string, axis: number) => g.op('ReduceMean', [v], { axes: attr.ints([axis]), keepdims: attr.int(1) });
  const z = g.op('Sub', [x, mean(x, 2)]); // loudness removed per frame
  const m = mean(z, 1); // [B, 1, 80]
  const d = g.op('Sub', [z, m]);
  const s = g.op('Sqrt', [mean(g.op('Mul', [d, d]), 1)]);
  const stats = g.op('Reshape', [g.op('Concat', [m, s], { axis: attr.int(2) }), g.int64s([0, 160])]);
  const centred = g.op('Sub', [stats, g.initializer('calibration.statistics', 'float32', [160], cal)]);
  const p = g.initializer('projection.weight', 'float32', [160, dim], new Rng(spec.seed).fork(framework).normal(160 * dim, 1 / Math.sqrt(160)));
  g.output(g.op('MatMul', [centred, p]), 'float32', [batch, dim], output);
  const common = { language: 'English', sample_rate: 16000, output_dim: dim };
  return withMetadata(
    modelProto(g.build(), { opset: 13 }),
    wespeaker
      ? { framework, ...common, url: 'https://github.com/wenet-e2e/wespeaker/blob/master/docs/pretrained.md', comment: 'moxing test model (not WeSpeaker ResNet34)', normalize_samples: 0 }
      : {
          framework,
          ...common,
          url: 'https://www.modelscope.cn/models/iic/speech_campplus_sv_en_voxceleb_16k/summary',
          comment: 'moxing test model (not CAM++)',
          normalize_samples: 1,
          feature_normalize_type: 'global-mean',
        },
  );
}

/** Bump when the generated bytes change. */
const GENERATOR_VERSION = 1;

export interface SpeakerModelPaths {
  readonly dir: string;
  /** The segmentation folder (holds model.onnx) and file. */
  readonly segmentationDir: string;
  readonly segmentation: string;
  readonly wespeaker: string;
  readonly campplus: string;
}

function pathsIn(dir: string): SpeakerModelPaths {
  return {
    dir,
    segmentationDir: join(dir, SEGMENTATION_DIR),
    segmentation: join(dir, SEGMENTATION_DIR, SEGMENTATION_FILE),
    wespeaker: join(dir, WESPEAKER_FILE),
    campplus: join(dir, CAMPPLUS_FILE),
  };
}

/** The test speaker models under test/.models/, generated on first use (atomic rename). */
export async function ensureSpeakerModels(spec: SpeakerModelsSpec = TEST_SPEAKER_MODELS, root: string = TEST_MODELS_DIR): Promise<SpeakerModelPaths> {
  const hash = createHash('sha256').update(JSON.stringify([GENERATOR_VERSION, spec])).digest('hex').slice(0, 12);
  const dir = await generatedDir(root, `speakers-${hash}`, async (temp) => {
    const cal = await calibrate();
    const paths = pathsIn(temp);
    saveModel(segmentationModel(spec, cal), paths.segmentation);
    saveModel(embeddingModel(spec, 'wespeaker', cal.wespeaker), paths.wespeaker);
    saveModel(embeddingModel(spec, '3d-speaker', cal.campplus), paths.campplus);
  });
  return pathsIn(dir);
}
