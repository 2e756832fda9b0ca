/**
 * Tiny random-weight Vision Transformers in the layouts of the real ONNX exports moxing runs:
 *
 * - DINOv2 (onnx-community/dinov2-*, optimum's export of HF `Dinov2Model`): `pixel_values` [B, 3, H, W] with any
 *   H, W that are multiples of the patch size, because the graph bicubically resizes its learned position grid
 *   (a `Resize` node) to the input's patch grid; LayerScale in each block; `last_hidden_state` [B, 1 + R + N, D]
 *   and `pooler_output` [B, D] (the normalised CLS token).
 * - DINOv2 with registers (`Dinov2WithRegistersModel`): R register tokens inserted after CLS, after the position
 *   embeddings were added (registers carry no position).
 * - DINO v1 (Xenova/dino-vit*, HF `ViTModel`): fixed position embeddings, so the input must be image_size square.
 * - Optionally an `attentions` output: the last layer's softmax probabilities [B, heads, S, S], as the
 *   `*-with-attentions` exports give for attention maps.
 *
 * `writeVitModel` writes `onnx/model.onnx`, `config.json` and `preprocessor_config.json` into a folder, the layout
 * `moxing` loads from a local folder or the hub cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder, attr, encodeModel, modelProto, type ModelProto } from './onnx-builder.js';
import { Layers, WeightBank, dimOf, toVector } from './layers.js';

export type VitFlavor = 'dinov2' | 'dino';

/** Sizes and options of one tiny ViT. */
export interface VitDims {
  flavor: VitFlavor;
  hidden: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  patchSize: number;
  /** DINOv2: side of the learned position grid (37 for the real 518/14 models). DINO: image_size / patchSize. */
  positionGrid: number;
  /** Register tokens (DINOv2 with registers: 4). */
  registers: number;
  /** Adds the last layer's `attentions` output. */
  attentions: boolean;
  seed: number;
}

/** A DINOv2-layout ViT small enough for unit tests (runs a 224x224 image in a few ms). */
export const TINY_DINOV2: Readonly<VitDims> = Object.freeze({
  flavor: 'dinov2', hidden: 32, layers: 2, heads: 2, mlpRatio: 4, patchSize: 14, positionGrid: 8, registers: 0, attentions: false, seed: 5,
});

/** The same with 4 registers and the attentions output. */
export const TINY_DINOV2_REG: Readonly<VitDims> = Object.freeze({ ...TINY_DINOV2, registers: 4, attentions: true, seed: 6 });

/** A DINO v1 (ViT) layout: patch 16, fixed 224x224 input. */
export const TINY_DINO: Readonly<VitDims> = Object.freeze({
  flavor: 'dino', hidden: 32, layers: 2, heads: 2, mlpRatio: 4, patchSize: 16, positionGrid: 14, registers: 0, attentions: true, seed: 7,
});

/** ViT-S/14 sizes (DINOv2 small: 22M parameters) with random weights, for benchmarks. */
export const SMALL_DINOV2: Readonly<VitDims> = Object.freeze({
  flavor: 'dinov2', hidden: 384, layers: 12, heads: 6, mlpRatio: 4, patchSize: 14, positionGrid: 37, registers: 0, attentions: false, seed: 8,
});

const LN_EPS = 1e-6;

/** The ONNX graph of a ViT with `dims`. */
function vitModel(dims: VitDims): ModelProto {
  const { hidden: d, patchSize: p, positionGrid: grid, registers, heads } = dims;
  const bank = new WeightBank(dims.seed);
  const g = new GraphBuilder('main_graph');
  const layers = new Layers(g, bank);
  const pixels = g.input('pixel_values', 'float32', ['batch_size', 'num_channels', 'height', 'width']);

  // Patch embedding: a stride-p convolution, flattened to [B, N, D].
  const convW = layers.param(bank.normal('embeddings.patch_embeddings.projection.weight', [d, 3, p, p], 0.05));
  const convB = layers.param(bank.normal('embeddings.patch_embeddings.projection.bias', [d], 0.02));
  const conv = g.op('Conv', [pixels, convW, convB], { kernel_shape: attr.ints([p, p]), strides: attr.ints([p, p]) });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.int64s([0, d, -1])])], { perm: attr.ints([0, 2, 1]) });

  const batch = toVector(g, dimOf(g, pixels, 0));
  const cls = layers.param(bank.normal('embeddings.cls_token', [1, 1, d], 0.5));
  const clsB = g.op('Expand', [cls, g.op('Concat', [batch, g.int64s([1, d])], { axis: attr.int(0) })]);
  let x = g.op('Concat', [clsB, patches], { axis: attr.int(1) });

  const positions = layers.param(bank.normal('embeddings.position_embeddings', [1, 1 + grid * grid, d], 0.5));
  if (dims.flavor === 'dinov2') {
    // Bicubic resize of the position grid to the input's patch grid (HF interpolate_pos_encoding, traced).
    const clsPos = g.op('Slice', [positions, g.int64s([0]), g.int64s([1]), g.int64s([1])]);
    const gridPos = g.op('Slice', [positions, g.int64s([1]), g.int64s([1 + grid * grid]), g.int64s([1])]);
    const square = g.op('Transpose', [g.op('Reshape', [gridPos, g.int64s([1, grid, grid, d])])], { perm: attr.ints([0, 3, 1, 2]) });
    const hw = g.op('Slice', [g.op('Shape', [conv]), g.int64s([2]), g.int64s([4]), g.int64s([0])]);
    const sizes = g.op('Concat', [g.int64s([1, d]), hw], { axis: attr.int(0) });
    const resized = g.op('Resize', [square, '', '', sizes], {
      mode: attr.string('cubic'),
      cubic_coeff_a: attr.float(-0.75),
      coordinate_transformation_mode: attr.string('pytorch_half_pixel'),
    });
    const flat = g.op('Reshape', [g.op('Transpose', [resized], { perm: attr.ints([0, 2, 3, 1]) }), g.int64s([1, -1, d])]);
    x = g.op('Add', [x, g.op('Concat', [clsPos, flat], { axis: attr.int(1) })]);
  } else {
    x = g.op('Add', [x, positions]);
  }
  if (registers > 0) {
    const reg = layers.param(bank.normal('embeddings.register_tokens', [1, registers, d], 0.5));
    const regB = g.op('Expand', [reg, g.op('Concat', [batch, g.int64s([registers, d])], { axis: attr.int(0) })]);
    const first = g.op('Slice', [x, g.int64s([0]), g.int64s([1]), g.int64s([1])]);
    const rest = g.op('Slice', [x, g.int64s([1]), g.int64s([2 ** 62]), g.int64s([1])]);
    x = g.op('Concat', [first, regB, rest], { axis: attr.int(1) });
  }

  let lastProbs = '';
  for (let i = 0; i < dims.layers; i++) {
    const name = `encoder.layer.${i}`;
    const a = layers.attention({ name: `${name}.attention`, query: layers.layerNorm(x, `${name}.norm1`, d, LN_EPS), dim: d, heads });
    lastProbs = a.probs;
    x = g.op('Add', [x, layerScale(layers, a.output, `${name}.layer_scale1`, dims)]);
    const m = layers.mlp(layers.layerNorm(x, `${name}.norm2`, d, LN_EPS), `${name}.mlp`, d, d * dims.mlpRatio);
    x = g.op('Add', [x, layerScale(layers, m, `${name}.layer_scale2`, dims)]);
  }
  const last = layers.layerNorm(x, 'layernorm', d, LN_EPS);
  g.output(last, 'float32', ['batch_size', 'sequence_length', d], 'last_hidden_state');
  const pooled = g.op('Gather', [last, g.int64(0)], { axis: attr.int(1) });
  g.output(pooled, 'float32', ['batch_size', d], 'pooler_output');
  if (dims.attentions) g.output(lastProbs, 'float32', ['batch_size', heads, 'sequence_length', 'sequence_length'], 'attentions');
  return modelProto(g.build());
}

/** DINOv2's LayerScale (a learned per-channel gain); DINO v1 blocks have none. */
function layerScale(layers: Layers, x: string, name: string, dims: VitDims): string {
  if (dims.flavor !== 'dinov2') return x;
  return layers.g.op('Mul', [x, layers.param(layers.bank.normal(`${name}.lambda1`, [dims.hidden], 0.2, 1))]);
}

/** config.json as the real exports have it (the fields moxing reads, plus the usual ones). */
function vitConfig(dims: VitDims): Record<string, unknown> {
  const common = {
    hidden_size: dims.hidden,
    num_hidden_layers: dims.layers,
    num_attention_heads: dims.heads,
    intermediate_size: dims.hidden * dims.mlpRatio,
    patch_size: dims.patchSize,
    num_channels: 3,
    layer_norm_eps: LN_EPS,
    hidden_act: 'gelu',
    qkv_bias: true,
  };
  if (dims.flavor === 'dino') {
    return { architectures: ['ViTModel'], model_type: 'vit', image_size: dims.positionGrid * dims.patchSize, ...common };
  }
  const withRegisters = dims.registers > 0;
  return {
    architectures: [withRegisters ? 'Dinov2WithRegistersModel' : 'Dinov2Model'],
    model_type: withRegisters ? 'dinov2_with_registers' : 'dinov2',
    image_size: 518,
    mlp_ratio: dims.mlpRatio,
    layerscale_value: 1.0,
    ...(withRegisters ? { num_register_tokens: dims.registers } : {}),
    ...common,
  };
}

/** preprocessor_config.json of facebook/dinov2-* and facebook/dino-vit* (the real files' fields). */
export function vitPreprocessorConfig(flavor: VitFlavor): Record<string, unknown> {
  const imagenet = { image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] };
  if (flavor === 'dino') {
    return { do_normalize: true, do_resize: true, feature_extractor_type: 'ViTFeatureExtractor', ...imagenet, resample: 2, size: 224 };
  }
  return {
    crop_size: { height: 224, width: 224 },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    ...imagenet,
    image_processor_type: 'BitImageProcessor',
    resample: 3,
    rescale_factor: 0.00392156862745098,
    size: { shortest_edge: 256 },
  };
}

/** Default folder for generated models: test/.models/vit (ignored by git). */
const VIT_MODELS_DIR = fileURLToPath(new URL('../.models/vit', import.meta.url));

/**
 * Writes the model folder (onnx/model.onnx, config.json, preprocessor_config.json) for `dims` and returns its path.
 * The folder name carries a hash of `dims`, so an existing folder is reused; files are written to a temporary
 * name and renamed, so test files generating the same model in parallel never see half a file.
 */
export function writeVitModel(dims: VitDims, baseDir: string = VIT_MODELS_DIR): string {
  const key = createHash('sha256').update(JSON.stringify(dims)).digest('hex').slice(0, 12);
  const dir = join(baseDir, `${dims.flavor}-${dims.hidden}d${dims.layers}l-r${dims.registers}${dims.attentions ? '-attn' : ''}-${key}`);
  const modelPath = join(dir, 'onnx', 'model.onnx');
  if (existsSync(modelPath)) return dir;
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const tmp = `.${process.pid}.${Date.now()}.tmp`;
  const writeAtomic = (path: string, data: string | Uint8Array): void => {
    writeFileSync(path + tmp, data);
    renameSync(path + tmp, path);
  };
  writeAtomic(join(dir, 'config.json'), JSON.stringify(vitConfig(dims), null, 2));
  writeAtomic(join(dir, 'preprocessor_config.json'), JSON.stringify(vitPreprocessorConfig(dims.flavor), null, 2));
  writeAtomic(modelPath, encodeModel(vitModel(dims)));
  return dir;
}
