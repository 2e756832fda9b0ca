/**
 * Seeded random-weight speaker models with the real architectures' dimensions, for the diarization speed bench
 * (bench/diarize.ts). Their I/O names, shapes and metadata are those of the sherpa-onnx exports (as in
 * ./speakers.ts), so sherpa-onnx-node and moxing both load them; their compute is the real networks':
 *
 * - pyannote segmentation-3.0 (PyanNet), `x` [N, 1, 160000] → `y` [N, 589, 7]: SincNet (InstanceNorm of the
 *   waveform; 80 band-pass filters of 251 taps, stride 10, as one Conv (the export computes the sinc filters
 *   into a Conv weight too), abs, MaxPool 3, InstanceNorm, LeakyReLU; then twice Conv 60×5, MaxPool 3,
 *   InstanceNorm, LeakyReLU), a 4-layer bidirectional LSTM of hidden 128 (ONNX LSTM op), Linear 256→128 and
 *   128→128 with LeakyReLU, Linear 128→7, LogSoftmax. Receptive field 991 samples, shift 270 (10·3·3·3), and
 *   589 frames per 10 s window, as the real export's metadata says.
 * - WeSpeaker ResNet34 (`wespeaker_en_voxceleb_resnet34.onnx`), `feats` [B, T, 80] → `embs` [B, 256]: conv 3×3
 *   to 32 channels, BasicBlocks [3, 4, 6, 3] of 32/64/128/256 channels (stride 2 from the second stage, 1×1
 *   projection shortcuts), statistics pooling (mean and unbiased std over time of 256·10 features) and Linear
 *   5120→256. BatchNorm is folded into each Conv's bias, as onnxruntime fuses it anyway: the same FLOPs.
 *   6.6 M parameters, like the real model.
 *
 * The weights are random (He-style scales, so activations neither vanish nor overflow): the outputs mean
 * nothing, only the time they take does.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { generateOnce } from './generate-once.js';
import { GraphBuilder, attr, modelProto, saveModel, tensor, type ModelProto } from './onnx-builder.js';
import { WeightBank } from './layers.js';
import { SEGMENTATION_DIR, SEGMENTATION_FILE, WESPEAKER_FILE } from './speakers.js';

export const REAL_SEGMENTATION = Object.freeze({ window: 160000, frames: 589, classes: 7, receptiveFieldSize: 991, receptiveFieldShift: 270, lstmLayers: 4, hidden: 128 });
export const REAL_RESNET34 = Object.freeze({ channels: [32, 64, 128, 256], blocks: [3, 4, 6, 3], bins: 80, embeddingDim: 256 });

const SAMPLE_RATE = 16000;

function withMetadata(model: ModelProto, metadata: Record<string, string | number>): ModelProto {
  return { ...model, metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value: String(value) })) };
}

/** 40 mel-spaced band-pass filters (Hamming-windowed), each as a cosine and a sine: [80, 1, 251]. */
function sincFilters(taps: number): Float32Array {
  const mel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
  const hz = (m: number) => 700 * (10 ** (m / 2595) - 1);
  const bands = 40;
  const edges = Array.from({ length: bands + 1 }, (_, i) => hz(mel(30) + ((mel(7600) - mel(30)) * i) / bands));
  const w = new Float32Array(2 * bands * taps);
  const half = (taps - 1) / 2;
  for (let b = 0; b < bands; b++) {
    const [low, high] = [edges[b], edges[b + 1]];
    const centre = (low + high) / 2;
    for (let t = 0; t < taps; t++) {
      const n = t - half;
      const hamming = 0.54 - 0.46 * Math.cos((2 * Math.PI * t) / (taps - 1));
      const envelope = n === 0 ? (high - low) / SAMPLE_RATE : Math.sin((Math.PI * (high - low) * n) / SAMPLE_RATE) / (Math.PI * n);
      const phase = (2 * Math.PI * centre * n) / SAMPLE_RATE;
      w[b * taps + t] = 2 * hamming * envelope * Math.cos(phase);
      w[(bands + b) * taps + t] = 2 * hamming * envelope * Math.sin(phase);
    }
  }
  return w;
}

function segmentationModel(seed: number): ModelProto {
  const { window, classes, hidden, lstmLayers } = REAL_SEGMENTATION;
  const g = new GraphBuilder('main_graph');
  const bank = new WeightBank(seed);
  const p = (name: string, dims: number[], std: number, mean = 0) => g.addInitializer(bank.normal(name, dims, std, mean));
  const instanceNorm = (x: string, name: string, channels: number) =>
    g.op('InstanceNormalization', [x, p(`${name}.weight`, [channels], 0.1, 1), p(`${name}.bias`, [channels], 0.1)], { epsilon: attr.float(1e-5) });
  const maxPool = (x: string) => g.op('MaxPool', [x], { kernel_shape: attr.ints([3]), strides: attr.ints([3]) });
  const leaky = (x: string) => g.op('LeakyRelu', [x], { alpha: attr.float(0.01) });

  const x = g.input('x', 'float32', ['N', 1, 'T']);
  let h = instanceNorm(x, 'sincnet.wav_norm1d', 1);
  const sinc = g.addInitializer(tensor('sincnet.conv1d.0.filterbank', 'float32', [80, 1, 251], sincFilters(251)));
  h = g.op('Conv', [h, sinc], { kernel_shape: attr.ints([251]), strides: attr.ints([10]) });
  h = leaky(instanceNorm(maxPool(g.op('Abs', [h])), 'sincnet.norm1d.0', 80));
  for (const [i, inChannels] of [
    [1, 80],
    [2, 60],
  ] as const) {
    const w = p(`sincnet.conv1d.${i}.weight`, [60, inChannels, 5], Math.sqrt(2 / (inChannels * 5)));
    const b = p(`sincnet.conv1d.${i}.bias`, [60], 0.02);
    h = leaky(instanceNorm(maxPool(g.op('Conv', [h, w, b], { kernel_shape: attr.ints([5]) })), `sincnet.norm1d.${i}`, 60));
  }
  // [N, 60, F] → [F, N, 60]: the LSTM op's sequence-first layout
  h = g.op('Transpose', [h], { perm: attr.ints([2, 0, 1]) });
  const lstmStd = 1 / Math.sqrt(3 * hidden); // torch's U(-1/√H, 1/√H)
  for (let layer = 0; layer < lstmLayers; layer++) {
    const inputSize = layer === 0 ? 60 : 2 * hidden;
    const w = p(`lstm.${layer}.W`, [2, 4 * hidden, inputSize], lstmStd);
    const r = p(`lstm.${layer}.R`, [2, 4 * hidden, hidden], lstmStd);
    const b = p(`lstm.${layer}.B`, [2, 8 * hidden], lstmStd);
    const [y] = g.node('LSTM', [h, w, r, b], { hidden_size: attr.int(hidden), direction: attr.string('bidirectional') }, 3);
    // Y [F, 2, N, H] → [F, N, 2H]
    h = g.op('Reshape', [g.op('Transpose', [y], { perm: attr.ints([0, 2, 1, 3]) }), g.int64s([0, 0, 2 * hidden])]);
  }
  h = g.op('Transpose', [h], { perm: attr.ints([1, 0, 2]) }); // [N, F, 2H]
  const linear = (v: string, name: string, inDim: number, outDim: number, std: number) =>
    g.op('Add', [g.op('MatMul', [v, p(`${name}.weight`, [inDim, outDim], std)]), p(`${name}.bias`, [outDim], 0.02)]);
  h = leaky(linear(h, 'linear.0', 2 * hidden, 128, Math.sqrt(2 / (2 * hidden))));
  h = leaky(linear(h, 'linear.1', 128, 128, Math.sqrt(2 / 128)));
  const y = g.op('LogSoftmax', [linear(h, 'classifier', 128, classes, Math.sqrt(4 / 128))], { axis: attr.int(-1) });
  g.output(y, 'float32', ['N', 'T', classes], 'y');
  // sherpa-onnx's scripts/pyannote/segmentation/export-onnx.py: opset 15, x {0: N, 2: T}, y {0: N, 1: T}
  return withMetadata(modelProto(g.build(), { opset: 15 }), {
    num_speakers: 3,
    powerset_max_classes: 2,
    num_classes: classes,
    sample_rate: SAMPLE_RATE,
    window_size: window,
    receptive_field_size: REAL_SEGMENTATION.receptiveFieldSize,
    receptive_field_shift: REAL_SEGMENTATION.receptiveFieldShift,
    model_type: 'pyannote-segmentation-3.0',
    version: '1',
    model_author: 'moxing random-weight model of pyannote segmentation-3.0 dimensions (not pyannote-audio)',
    maintainer: 'k2-fsa',
    url_1: 'https://huggingface.co/pyannote/segmentation-3.0',
    url_2: 'https://huggingface.co/csukuangfj/pyannote-models/tree/main/segmentation-3.0',
    license: 'https://huggingface.co/pyannote/segmentation-3.0/blob/main/LICENSE',
  });
}

function resnet34Model(seed: number): ModelProto {
  const { channels, blocks, bins, embeddingDim } = REAL_RESNET34;
  const g = new GraphBuilder('main_graph');
  const bank = new WeightBank(seed);
  const p = (name: string, dims: number[], std: number) => g.addInitializer(bank.normal(name, dims, std));
  /** Conv (BatchNorm folded into its bias). `gain` scales the He init (below 1 on a residual branch's end). */
  const conv = (x: string, name: string, inC: number, outC: number, k: number, stride: number, gain = 1) =>
    g.op('Conv', [x, p(`${name}.weight`, [outC, inC, k, k], gain * Math.sqrt(2 / (inC * k * k))), p(`${name}.bias`, [outC], 0.02)], {
      kernel_shape: attr.ints([k, k]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints(k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0]),
    });
  const relu = (x: string) => g.op('Relu', [x]);

  const feats = g.input('feats', 'float32', ['B', 'T', bins]);
  // [B, T, 80] → [B, 1, 80, T], as WeSpeaker's ResNet permutes and unsqueezes
  let h = g.op('Unsqueeze', [g.op('Transpose', [feats], { perm: attr.ints([0, 2, 1]) }), g.int64s([1])]);
  h = relu(conv(h, 'conv1', 1, channels[0], 3, 1));
  let inC = channels[0];
  channels.forEach((outC, stage) => {
    for (let b = 0; b < blocks[stage]; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      const name = `layer${stage + 1}.${b}`;
      const branch = conv(relu(conv(h, `${name}.conv1`, inC, outC, 3, stride)), `${name}.conv2`, outC, outC, 3, 1, 0.5);
      const shortcut = stride !== 1 || inC !== outC ? conv(h, `${name}.shortcut`, inC, outC, 1, stride) : h;
      h = relu(g.op('Add', [branch, shortcut]));
      inC = outC;
    }
  });
  // statistics pooling: [B, 256, 10, T/8] → [B, 2560, T/8] → mean and unbiased std over time
  const stats = (channels[3] * bins) / 8;
  h = g.op('Reshape', [h, g.int64s([0, stats, -1])]);
  const mean = g.op('ReduceMean', [h], { axes: attr.ints([2]), keepdims: attr.int(1) });
  const d = g.op('Sub', [h, mean]);
  const frames = g.op('Cast', [g.op('Gather', [g.op('Shape', [h]), g.int64(2)], { axis: attr.int(0) })], { to: attr.int(1) });
  const variance = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [d, d]), g.int64s([2])], { keepdims: attr.int(0) }), g.op('Sub', [frames, g.float(1)])]);
  const std = g.op('Sqrt', [g.op('Add', [variance, g.float(1e-7)])]);
  const pooled = g.op('Concat', [g.op('Squeeze', [mean, g.int64s([2])]), std], { axis: attr.int(1) }); // [B, 5120]
  const w = p('seg_1.weight', [2 * stats, embeddingDim], Math.sqrt(1 / (2 * stats)));
  const embs = g.op('Add', [g.op('MatMul', [pooled, w]), p('seg_1.bias', [embeddingDim], 0.02)]);
  g.output(embs, 'float32', ['B', embeddingDim], 'embs');
  // WeSpeaker's export_onnx.py: opset 14, feats {0: B, 1: T}, embs {0: B}
  return withMetadata(modelProto(g.build(), { opset: 14 }), {
    framework: 'wespeaker',
    language: 'English',
    sample_rate: SAMPLE_RATE,
    output_dim: embeddingDim,
    url: 'https://github.com/wenet-e2e/wespeaker/blob/master/docs/pretrained.md',
    comment: 'moxing random-weight model of WeSpeaker ResNet34 dimensions (not trained)',
    normalize_samples: 0,
  });
}

/** Bump when the generated bytes change. */
const GENERATOR_VERSION = 2;

export interface RealSizeSpeakerModels {
  readonly dir: string;
  readonly segmentation: string;
  readonly wespeaker: string;
}

function pathsIn(dir: string): RealSizeSpeakerModels {
  return { dir, segmentation: join(dir, SEGMENTATION_DIR, SEGMENTATION_FILE), wespeaker: join(dir, WESPEAKER_FILE) };
}

/** The real-size random models under `root`, generated on first use (atomic rename). */
export async function ensureRealSizeSpeakerModels(root: string, seed = 11): Promise<RealSizeSpeakerModels> {
  const hash = createHash('sha256').update(JSON.stringify([GENERATOR_VERSION, seed])).digest('hex').slice(0, 12);
  const dir = await generateOnce(root, `real-speakers-${hash}`, (temp) => {
    const paths = pathsIn(temp);
    saveModel(segmentationModel(seed), paths.segmentation);
    saveModel(resnet34Model(seed + 1), paths.wespeaker);
  });
  return pathsIn(dir);
}
