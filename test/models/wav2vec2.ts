/**
 * A seeded random-weight wav2vec2 CTC model in the layout of the real exports (Xenova/wav2vec2-base-960h,
 * optimum): `onnx/model.onnx` with `input_values` [batch_size, sequence_length] → `logits`
 * [batch_size, sequence_length, vocab], plus config.json, preprocessor_config.json, vocab.json,
 * tokenizer_config.json and special_tokens_map.json.
 *
 * The maths is HF's Wav2Vec2ForCTC with `feat_extract_norm="layer"` (the large/lv60 and MMS layout): the real
 * 7-layer conv feature encoder (kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2: 320 samples = 20 ms per frame,
 * 400-sample receptive field), each conv followed by LayerNorm over channels and GELU; feature projection
 * (LayerNorm + Linear); a grouped positional conv (even kernel, last frame dropped, GELU) added to the hidden
 * states; pre-LN ("stable layer norm") transformer layers; a final LayerNorm and the lm_head.
 * With `layers: 0` every output frame depends only on nearby samples, which makes chunking testable exactly.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, Rng, attr, modelProto, saveModel, type ModelProto } from './onnx-builder.js';
import { Layers, WeightBank } from './layers.js';
import { TEST_MODELS_DIR } from './whisper.js';

/** facebook/wav2vec2-base-960h's vocab.json order: blank `<pad>` = 0, specials, `|`, letters by frequency, `'`. */
const WAV2VEC2_VOCAB: readonly string[] = Object.freeze([
  '<pad>', '<s>', '</s>', '<unk>', '|',
  'E', 'T', 'A', 'O', 'N', 'I', 'H', 'S', 'R', 'D', 'L', 'U', 'M', 'W', 'C', 'F', 'G', 'Y', 'P', 'B', 'V', 'K',
  "'", 'X', 'J', 'Q', 'Z',
]);

const CONV_KERNEL = [10, 3, 3, 3, 3, 2, 2] as const;
const CONV_STRIDE = [5, 2, 2, 2, 2, 2, 2] as const;

export interface Wav2Vec2Spec {
  name: string;
  /** Channels of every conv layer. */
  convDim: number;
  hidden: number;
  /** Transformer layers (0: a purely local model). */
  layers: number;
  heads: number;
  ffn: number;
  /** Positional conv kernel (even, as every real config: 128) and groups (16). */
  posConvKernel: number;
  posConvGroups: number;
  /** preprocessor_config.json `do_normalize`. */
  doNormalize: boolean;
  /** Std of lm_head weights: larger makes the random model emit letters rather than only blanks. */
  headStd: number;
  /** Added to the blank's lm_head bias (half of it to `|`'s). */
  blankBias: number;
  seed: number;
}

export const TINY_WAV2VEC2: Readonly<Wav2Vec2Spec> = Object.freeze({
  name: 'wav2vec2-tiny-test',
  convDim: 32,
  hidden: 32,
  layers: 2,
  heads: 2,
  ffn: 64,
  posConvKernel: 16,
  posConvGroups: 4,
  doNormalize: true,
  headStd: 0.3,
  blankBias: 1.5,
  seed: 3,
});

/** The graph of `onnx/model.onnx`. */
function wav2vec2Graph(spec: Wav2Vec2Spec): ModelProto {
  const g = new GraphBuilder('main_graph');
  const nn = new Layers(g, new WeightBank(spec.seed));
  const bank = nn.bank;
  const input = g.input('input_values', 'float32', ['batch_size', 'sequence_length']);
  let x = g.op('Unsqueeze', [input, g.int64s([1])]); // [B, 1, L]
  let channels = 1;
  for (let i = 0; i < CONV_KERNEL.length; i++) {
    x = g.within(`wav2vec2/feature_extractor/conv_layers.${i}`, () => {
      const w = nn.param(bank.normal(`feature_extractor.conv_layers.${i}.conv.weight`, [spec.convDim, channels, CONV_KERNEL[i]], (channels * CONV_KERNEL[i]) ** -0.5));
      const b = nn.param(bank.normal(`feature_extractor.conv_layers.${i}.conv.bias`, [spec.convDim], 0.02));
      const conv = g.op('Conv', [x, w, b], { kernel_shape: attr.ints([CONV_KERNEL[i]]), strides: attr.ints([CONV_STRIDE[i]]) });
      const t = g.op('Transpose', [conv], { perm: attr.ints([0, 2, 1]) });
      const normed = nn.layerNorm(t, `feature_extractor.conv_layers.${i}.layer_norm`, spec.convDim);
      return nn.gelu(g.op('Transpose', [normed], { perm: attr.ints([0, 2, 1]) }));
    });
    channels = spec.convDim;
  }
  let h = g.within('wav2vec2/feature_projection', () => {
    const t = g.op('Transpose', [x], { perm: attr.ints([0, 2, 1]) }); // [B, T, C]
    return nn.linear(nn.layerNorm(t, 'feature_projection.layer_norm', spec.convDim), 'feature_projection.projection', spec.convDim, spec.hidden);
  });
  h = g.within('wav2vec2/encoder/pos_conv_embed', () => {
    const k = spec.posConvKernel;
    const t = g.op('Transpose', [h], { perm: attr.ints([0, 2, 1]) }); // [B, D, T]
    const w = nn.param(bank.normal('encoder.pos_conv_embed.conv.weight', [spec.hidden, spec.hidden / spec.posConvGroups, k], 0.05));
    const b = nn.param(bank.normal('encoder.pos_conv_embed.conv.bias', [spec.hidden], 0.02));
    let conv = g.op('Conv', [t, w, b], { kernel_shape: attr.ints([k]), pads: attr.ints([k / 2, k / 2]), group: attr.int(spec.posConvGroups) });
    // Wav2Vec2SamePadLayer: an even kernel makes one frame too many; drop the last
    conv = g.op('Slice', [conv, g.int64s([0]), g.int64s([-1]), g.int64s([2])]);
    return g.op('Add', [h, g.op('Transpose', [nn.gelu(conv)], { perm: attr.ints([0, 2, 1]) })]);
  });
  for (let l = 0; l < spec.layers; l++) {
    h = g.within(`wav2vec2/encoder/layers.${l}`, () => {
      const a = nn.attention({ name: `encoder.layers.${l}.attention`, query: nn.layerNorm(h, `encoder.layers.${l}.layer_norm`, spec.hidden), dim: spec.hidden, heads: spec.heads });
      const r = g.op('Add', [h, a.output]);
      const f = nn.mlp(nn.layerNorm(r, `encoder.layers.${l}.final_layer_norm`, spec.hidden), `encoder.layers.${l}.feed_forward`, spec.hidden, spec.ffn);
      return g.op('Add', [r, f]);
    });
  }
  h = nn.layerNorm(h, 'encoder.layer_norm', spec.hidden);
  const logits = g.within('lm_head', () => {
    const w = nn.param(bank.normal('lm_head.weight', [spec.hidden, WAV2VEC2_VOCAB.length], spec.headStd));
    // blank and `|` get a head start so greedy decoding yields words separated by blanks, as a trained model's
    const b = nn.param(bank.custom('lm_head.bias', [WAV2VEC2_VOCAB.length], () => {
      const bias = new Rng(spec.seed).normal(WAV2VEC2_VOCAB.length, 0.1);
      bias[0] += spec.blankBias;
      bias[4] += spec.blankBias / 2;
      return bias;
    }));
    return g.op('Add', [g.op('MatMul', [h, w]), b]);
  });
  g.output(logits, 'float32', ['batch_size', 'sequence_length', WAV2VEC2_VOCAB.length], 'logits');
  return modelProto(g.build());
}

function json(dir: string, name: string, value: unknown): void {
  writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

/** Writes the export folder (ONNX + configs) into `dir`. */
function writeWav2Vec2Model(spec: Wav2Vec2Spec, dir: string): void {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  saveModel(wav2vec2Graph(spec), join(dir, 'onnx', 'model.onnx'));
  json(dir, 'config.json', {
    _name_or_path: spec.name,
    architectures: ['Wav2Vec2ForCTC'],
    model_type: 'wav2vec2',
    conv_dim: CONV_KERNEL.map(() => spec.convDim),
    conv_kernel: [...CONV_KERNEL],
    conv_stride: [...CONV_STRIDE],
    conv_bias: true,
    feat_extract_norm: 'layer',
    feat_extract_activation: 'gelu',
    do_stable_layer_norm: true,
    hidden_size: spec.hidden,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    intermediate_size: spec.ffn,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
    num_conv_pos_embeddings: spec.posConvKernel,
    num_conv_pos_embedding_groups: spec.posConvGroups,
    vocab_size: WAV2VEC2_VOCAB.length,
    pad_token_id: 0,
    bos_token_id: 1,
    eos_token_id: 2,
    ctc_loss_reduction: 'sum',
  });
  json(dir, 'preprocessor_config.json', {
    do_normalize: spec.doNormalize,
    feature_extractor_type: 'Wav2Vec2FeatureExtractor',
    feature_size: 1,
    padding_side: 'right',
    padding_value: 0.0,
    return_attention_mask: false,
    sampling_rate: 16000,
  });
  json(dir, 'vocab.json', Object.fromEntries(WAV2VEC2_VOCAB.map((t, i) => [t, i])));
  json(dir, 'special_tokens_map.json', { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' });
  json(dir, 'tokenizer_config.json', {
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: '<pad>',
    do_lower_case: false,
    word_delimiter_token: '|',
    tokenizer_class: 'Wav2Vec2CTCTokenizer',
  });
}

/** Bump when the generated bytes change. */
const GENERATOR_VERSION = 1;

/** The folder of the model `spec` describes under test/.models/, generated on first use (atomic rename). */
export function ensureWav2Vec2Model(spec: Wav2Vec2Spec = TINY_WAV2VEC2, root: string = TEST_MODELS_DIR): string {
  const hash = createHash('sha256').update(JSON.stringify([GENERATOR_VERSION, spec])).digest('hex').slice(0, 12);
  const dir = join(root, `${spec.name}-${hash}`);
  if (existsSync(dir)) return dir;
  const temp = join(root, `.tmp-${spec.name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeWav2Vec2Model(spec, temp);
    try {
      renameSync(temp, dir);
    } catch (error) {
      if (!existsSync(dir)) throw error; // another process wrote the same model first
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return dir;
}
