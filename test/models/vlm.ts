/**
 * Seeded random-weight vision-language models in the three-file layout transformers.js runs, for tests and the
 * benchmark:
 *
 * ```
 * <dir>/config.json, generation_config.json, preprocessor_config.json, processor_config.json,
 *       tokenizer.json, tokenizer_config.json, special_tokens_map.json
 * <dir>/onnx/vision_encoder.onnx      pixel_values → image_features
 * <dir>/onnx/embed_tokens.onnx        input_ids int64 [batch, seq] → inputs_embeds float32 [batch, seq, hidden]
 * <dir>/onnx/decoder_model_merged.onnx inputs_embeds, attention_mask, position_ids, past_key_values.{i}.key/value
 *                                      → logits, present.{i}.key/value (the llama decoder of llm.ts)
 * <dir>/onnx/*_fp16.onnx               with `fp16`: the same weights in float16 (float16.ts); pixel_values float32
 *                                      (as transformers.js feeds it), image_features, inputs_embeds, the KV cache
 *                                      and logits float16
 * ```
 *
 * - `llava` (LLaVA, `LlavaForConditionalGeneration`): `pixel_values` float32
 *   [batch, 3, height, width] → a CLIP-style ViT (patch conv, CLS, positions, pre-LN, one block) → the
 *   2-layer GELU projector → `image_features` [batch, 1 + patches, hidden] (vision_feature_select_strategy
 *   "full": the CLS row is kept). CLIPImageProcessor: shortest edge, bicubic, center crop.
 * - `llava_onevision` (LLaVA-OneVision, `LlavaOnevisionForConditionalGeneration`, the configs shaped as
 *   llava-hf/llava-onevision-qwen2-0.5b-ov-hf's): `pixel_values` float32 [batch, 3, S, S] → a SigLIP-style ViT (no
 *   CLS; the patch conv drops the remainder, as 384 / 14 does) → the projector → `image_features`
 *   [batch, ⌊S/patch⌋², hidden], with no image_newline rows: the graph transformers.js's LlavaOnevision path can
 *   feed (its LlavaOnevisionImageProcessor is the plain one, so one S x S view per image). The configs carry
 *   `image_grid_pinpoints`, `do_pad` and `vision_aspect_ratio` as the real ones do, and processor_config.json has
 *   `num_image_tokens` and no `patch_size`.
 * - `smolvlm` (SmolVLM / Idefics3, `SmolVLMForConditionalGeneration`): `pixel_values` float32
 *   [batch, tiles, 3, height, width] and `pixel_attention_mask` bool [batch, tiles, height, width] (it zeroes
 *   padded pixels) → a SigLIP-style ViT (no CLS) → pixel shuffle by `scale_factor` → a linear connector →
 *   `image_features` [batch·tiles, 64, hidden]. Idefics3ImageProcessor: longest edge, lanczos, splitting into
 *   tiles plus a global image; `<fake_token_around_image>`, `<global-img>` and `<row_r_col_c>` tokens.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toFloat16 } from './float16.js';
import { generateOnce } from './generate-once.js';
import { Layers, WeightBank } from './layers.js';
import { LLM_CORPUS, llmGraph, trainBpe, type LlmSpec } from './llm.js';
import { GraphBuilder, attr, modelProto, saveModel, type ModelProto } from './onnx-builder.js';
import { TEST_MODELS_DIR } from './whisper.js';

export type VlmKind = 'llava' | 'llava_onevision' | 'smolvlm';

export interface VlmSpec {
  name: string;
  kind: VlmKind;
  /** The language model (llm.ts); its `tied`, `kvDtype` etc. apply. */
  text: Omit<LlmSpec, 'name'>;
  visionHidden: number;
  visionHeads: number;
  /** Transformer blocks of the vision tower. @default 1 */
  visionLayers?: number;
  patchSize: number;
  /** LLaVA / LLaVA-OneVision: the (square) input side. SmolVLM: the tile side (max_image_size.longest_edge). */
  imageSize: number;
  /** SmolVLM: images are resized to this longest edge before splitting (size.longest_edge). */
  longestEdge?: number;
  /** SmolVLM: pixel shuffle factor; image_seq_len = (imageSize / patchSize / scale)². */
  scaleFactor?: number;
  /** Also write the `_fp16` variant of the three files (the same weights in float16). @default false */
  fp16?: boolean;
  seed: number;
}

const TEXT = { hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64, merges: 200, tied: false, seed: 21 } as const;

/** A tiny LLaVA: 32x32 images in 8x8 patches → 17 image tokens (CLS kept). */
export const TINY_LLAVA: Readonly<VlmSpec> = Object.freeze({ name: 'llava-tiny-random', kind: 'llava', text: TEXT, visionHidden: 16, visionHeads: 2, patchSize: 8, imageSize: 32, fp16: true, seed: 31 });

/** A tiny LLaVA-OneVision: 36x36 views in 8x8 patches (the conv drops 4 px, as SigLIP's 384 / 14 drops 6) → 16 image tokens. */
export const TINY_LLAVA_ONEVISION: Readonly<VlmSpec> = Object.freeze({ name: 'llava-onevision-tiny-random', kind: 'llava_onevision', text: { ...TEXT, seed: 23 }, visionHidden: 16, visionHeads: 2, patchSize: 8, imageSize: 36, fp16: true, seed: 33 });

/** A tiny SmolVLM: 64x64 tiles in 4x4 patches, pixel shuffle 2 → 64 tokens per tile; images up to 128 px (2x2 tiles). */
export const TINY_SMOLVLM: Readonly<VlmSpec> = Object.freeze({ name: 'smolvlm-tiny-random', kind: 'smolvlm', text: { ...TEXT, seed: 22 }, visionHidden: 16, visionHeads: 2, patchSize: 4, imageSize: 64, longestEdge: 128, scaleFactor: 2, fp16: true, seed: 32 });

/**
 * SmolVLM-256M's shapes (SigLIP-B/16 tower at 512 px, pixel shuffle 4 → 64 tokens per tile; SmolLM2-135M's width,
 * heads 9/3 and MLP) with fewer layers, and images of up to 1024 px (2x2 tiles plus the global one), for the benchmark.
 */
export const SMOLVLM_256M_SHAPED: Readonly<VlmSpec> = Object.freeze({
  name: 'smolvlm-256m-shaped', kind: 'smolvlm', text: { hidden: 576, layers: 4, heads: 9, kvHeads: 3, intermediate: 1536, merges: 200, tied: true, seed: 41, ropeTheta: 100_000 },
  visionHidden: 768, visionHeads: 12, visionLayers: 2, patchSize: 16, imageSize: 512, longestEdge: 1024, scaleFactor: 4, seed: 42,
});

/** Bump when the generated bytes change, so cached models are rebuilt. */
const GENERATOR_VERSION = 1;

const SPECIALS: Record<VlmKind, readonly string[]> = {
  llava: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>'],
  llava_onevision: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>', '<video>'],
  smolvlm: ['<|endoftext|>', '<|im_start|>', '<end_of_utterance>', '<fake_token_around_image>', '<image>', '<global-img>', ...Array.from({ length: 36 }, (_, i) => `<row_${Math.floor(i / 6) + 1}_col_${(i % 6) + 1}>`)],
};

/** LLaVA-OneVision's ChatML shape: images first in a turn, each followed by a newline, then the text. */
export const LLAVA_TEMPLATE = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '<image>\\n' }}{% endif %}{% endfor %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** SmolVLM-Instruct's chat template. */
export const SMOLVLM_TEMPLATE = "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

/** Patches of one view: a strided conv keeps ⌊side / patch⌋ per axis. */
function patchCount(spec: VlmSpec): number {
  return Math.floor(spec.imageSize / spec.patchSize) ** 2;
}

/** Tokens per image (LLaVA: CLS kept; LLaVA-OneVision: no CLS) or per tile (SmolVLM). */
export function imageSeqLen(spec: VlmSpec): number {
  if (spec.kind === 'llava') return patchCount(spec) + 1;
  if (spec.kind === 'llava_onevision') return patchCount(spec);
  return patchCount(spec) / (spec.scaleFactor ?? 1) ** 2;
}

/** LLaVA-OneVision's grid pinpoints, as its configs list them: every rows x cols of 1..6 views. */
function gridPinpoints(side: number): number[][] {
  return Array.from({ length: 36 }, (_, i) => [(Math.floor(i / 6) + 1) * side, ((i % 6) + 1) * side]);
}

/** Patch embedding [B, 3, S, S] → [B, N, Dv] plus learned positions (and a CLS row first, for LLaVA). */
function embedPatches(L: Layers, pixels: string, spec: VlmSpec, cls: boolean): string {
  const { g, bank } = L;
  const dv = spec.visionHidden;
  const p = spec.patchSize;
  const conv = g.op('Conv', [pixels, L.param(bank.normal('vision.patch.weight', [dv, 3, p, p], 0.3)), L.param(bank.normal('vision.patch.bias', [dv], 0.1))], { kernel_shape: attr.ints([p, p]), strides: attr.ints([p, p]) });
  let x = g.op('Transpose', [g.op('Reshape', [conv, g.int64s([0, dv, -1])])], { perm: attr.ints([0, 2, 1]) });
  const tokens = patchCount(spec) + (cls ? 1 : 0);
  if (cls) {
    const batch = g.op('Slice', [g.op('Shape', [x]), g.int64s([0]), g.int64s([1])]);
    const clsRow = g.op('Expand', [L.param(bank.normal('vision.cls', [1, 1, dv], 1)), g.op('Concat', [batch, g.int64s([1, dv])], { axis: attr.int(0) })]);
    x = g.op('Concat', [clsRow, x], { axis: attr.int(1) });
  }
  return g.op('Add', [x, L.param(bank.normal('vision.positions', [1, tokens, dv], 0.5))]);
}

/** The vision tower's pre-LN transformer blocks. */
function visionBlocks(L: Layers, x: string, spec: VlmSpec): string {
  const dv = spec.visionHidden;
  for (let i = 0; i < (spec.visionLayers ?? 1); i++) {
    const name = i === 0 ? 'vision.block' : `vision.block${i}`;
    const attended = L.g.op('Add', [x, L.attention({ name: `${name}.attn`, query: L.layerNorm(x, `${name}.ln1`, dv), dim: dv, heads: spec.visionHeads }).output]);
    x = L.g.op('Add', [attended, L.mlp(L.layerNorm(attended, `${name}.ln2`, dv), `${name}.mlp`, dv, dv * 4)]);
  }
  return x;
}

function llavaVision(spec: VlmSpec): ModelProto {
  const g = new GraphBuilder('main_graph');
  const L = new Layers(g, new WeightBank(spec.seed), { weightStd: 1, biasStd: 0.1, normStd: 0.1, fanIn: true });
  const pixels = g.input('pixel_values', 'float32', ['batch_size', 3, 'height', 'width']);
  const x = visionBlocks(L, L.layerNorm(embedPatches(L, pixels, spec, true), 'vision.pre_ln', spec.visionHidden), spec);
  const d = spec.text.hidden;
  const projected = L.linear(L.gelu(L.linear(x, 'projector.linear_1', spec.visionHidden, d)), 'projector.linear_2', d, d);
  g.output(g.op('Mul', [projected, g.float(1)], {}, 'image_features'), 'float32', ['batch_size', imageSeqLen(spec), d]);
  return modelProto(g.build(), { opset: 17 });
}

/** SigLIP tower (last hidden state, before post-LN, as vision_feature_layer -1 selects) → the 2-layer GELU projector. */
function llavaOnevisionVision(spec: VlmSpec): ModelProto {
  const g = new GraphBuilder('main_graph');
  const L = new Layers(g, new WeightBank(spec.seed), { weightStd: 1, biasStd: 0.1, normStd: 0.1, fanIn: true });
  const pixels = g.input('pixel_values', 'float32', ['batch_size', 3, 'height', 'width']);
  const x = visionBlocks(L, embedPatches(L, pixels, spec, false), spec);
  const d = spec.text.hidden;
  const projected = L.linear(L.gelu(L.linear(x, 'multi_modal_projector.linear_1', spec.visionHidden, d)), 'multi_modal_projector.linear_2', d, d);
  g.output(g.op('Mul', [projected, g.float(1)], {}, 'image_features'), 'float32', ['batch_size', imageSeqLen(spec), d]);
  return modelProto(g.build(), { opset: 17 });
}

/** Idefics3's pixel shuffle: [T, N, D] → [T, N / s², D·s²] over the √N × √N patch grid. */
function pixelShuffle(g: GraphBuilder, x: string, side: number, dim: number, s: number): string {
  const perm = { perm: attr.ints([0, 2, 1, 3]) };
  const a = g.op('Transpose', [g.op('Reshape', [x, g.int64s([-1, side, side / s, dim * s])])], perm);
  const b = g.op('Transpose', [g.op('Reshape', [a, g.int64s([-1, side / s, side / s, dim * s * s])])], perm);
  return g.op('Reshape', [b, g.int64s([-1, (side / s) ** 2, dim * s * s])]);
}

function smolvlmVision(spec: VlmSpec): ModelProto {
  const g = new GraphBuilder('main_graph');
  const L = new Layers(g, new WeightBank(spec.seed), { weightStd: 1, biasStd: 0.1, normStd: 0.1, fanIn: true });
  const size = spec.imageSize;
  const pixels = g.input('pixel_values', 'float32', ['batch_size', 'num_images', 3, 'height', 'width']);
  const mask = g.input('pixel_attention_mask', 'bool', ['batch_size', 'num_images', 'height', 'width']);
  const kept = g.op('Mul', [pixels, g.op('Unsqueeze', [g.op('Cast', [mask], { to: attr.int(1) }), g.int64s([2])])]);
  const tiles = g.op('Reshape', [kept, g.int64s([-1, 3, size, size])]);
  const x = L.layerNorm(visionBlocks(L, embedPatches(L, tiles, spec, false), spec), 'vision.post_ln', spec.visionHidden);
  const s = spec.scaleFactor ?? 1;
  const shuffled = pixelShuffle(g, x, size / spec.patchSize, spec.visionHidden, s);
  const projected = L.linear(shuffled, 'connector.modality_projection.proj', spec.visionHidden * s * s, spec.text.hidden, false);
  g.output(g.op('Mul', [projected, g.float(1)], {}, 'image_features'), 'float32', ['num_tiles', imageSeqLen(spec), spec.text.hidden]);
  return modelProto(g.build(), { opset: 17 });
}

function embedTokens(spec: VlmSpec, vocabSize: number): ModelProto {
  const g = new GraphBuilder('main_graph');
  const bank = new WeightBank(spec.text.seed);
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const table = g.addInitializer(bank.normal('model.embed_tokens.weight', [vocabSize, spec.text.hidden], 1));
  g.output(g.op('Gather', [table, ids], { axis: attr.int(0) }, 'inputs_embeds'), 'float32', ['batch_size', 'sequence_length', spec.text.hidden]);
  return modelProto(g.build(), { opset: 17 });
}

function writeSideFiles(spec: VlmSpec, dir: string): number {
  const bpe = trainBpe(LLM_CORPUS, spec.text.merges);
  const base = Object.keys(bpe.vocab).length;
  const specials = SPECIALS[spec.kind].map((content, i) => ({ id: base + i, content }));
  const id = (content: string) => specials.find((s) => s.content === content)!.id;
  const vocabSize = base + specials.length;
  const eos = spec.kind === 'smolvlm' ? '<end_of_utterance>' : '<|im_end|>';
  const json = (name: string, value: unknown) => writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  json('tokenizer.json', {
    version: '1.0', truncation: null, padding: null,
    added_tokens: specials.map((s) => ({ id: s.id, content: s.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null, pre_tokenizer: byteLevel, post_processor: byteLevel, decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: bpe.vocab, merges: bpe.merges },
  });
  json('tokenizer_config.json', {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(specials.map((s) => [String(s.id), { content: s.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }])),
    bos_token: '<|im_start|>',
    chat_template: spec.kind === 'smolvlm' ? SMOLVLM_TEMPLATE : LLAVA_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: eos,
    model_max_length: 4096,
    pad_token: '<|endoftext|>',
    tokenizer_class: 'GPT2Tokenizer',
    unk_token: '<|endoftext|>',
  });
  json('special_tokens_map.json', { bos_token: '<|im_start|>', eos_token: eos, pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
  const t = spec.text;
  const textConfig = {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: t.hidden, intermediate_size: t.intermediate, num_hidden_layers: t.layers, num_attention_heads: t.heads, num_key_value_heads: t.kvHeads,
    head_dim: t.hidden / t.heads, max_position_embeddings: 4096, rms_norm_eps: 1e-5, rope_theta: t.ropeTheta ?? 10000, tie_word_embeddings: t.tied, vocab_size: vocabSize, hidden_act: 'silu',
    bos_token_id: id('<|im_start|>'), eos_token_id: id(eos), pad_token_id: id('<|endoftext|>'),
  };
  const visionConfig = { hidden_size: spec.visionHidden, num_attention_heads: spec.visionHeads, num_hidden_layers: 1, patch_size: spec.patchSize, image_size: spec.imageSize };
  const ids = { bos_token_id: id('<|im_start|>'), eos_token_id: id(eos), pad_token_id: id('<|endoftext|>') };
  if (spec.kind === 'llava') {
    json('config.json', { _name_or_path: spec.name, architectures: ['LlavaForConditionalGeneration'], model_type: 'llava', image_token_index: id('<image>'), projector_hidden_act: 'gelu', vision_feature_layer: -1, vision_feature_select_strategy: 'full', text_config: textConfig, vision_config: { ...visionConfig, model_type: 'clip_vision_model' }, tie_word_embeddings: t.tied, ...ids });
    json('preprocessor_config.json', { processor_class: 'LlavaProcessor', image_processor_type: 'CLIPImageProcessor', do_resize: true, size: { shortest_edge: spec.imageSize }, resample: 3, do_center_crop: true, crop_size: { height: spec.imageSize, width: spec.imageSize }, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711], do_convert_rgb: true });
    json('processor_config.json', { processor_class: 'LlavaProcessor', image_token: '<image>', patch_size: spec.patchSize, num_additional_image_tokens: 1, vision_feature_select_strategy: 'full' });
  } else if (spec.kind === 'llava_onevision') {
    const pinpoints = gridPinpoints(spec.imageSize);
    json('config.json', {
      _name_or_path: spec.name, architectures: ['LlavaOnevisionForConditionalGeneration'], model_type: 'llava_onevision', image_token_index: id('<image>'), video_token_index: id('<video>'),
      image_grid_pinpoints: pinpoints, vision_aspect_ratio: 'anyres_max_9', projector_hidden_act: 'gelu', vision_feature_layer: -1, vision_feature_select_strategy: 'full',
      text_config: textConfig, vision_config: { ...visionConfig, model_type: 'siglip_vision_model', vision_use_head: false }, tie_word_embeddings: t.tied, ...ids,
    });
    json('preprocessor_config.json', { processor_class: 'LlavaOnevisionProcessor', image_processor_type: 'LlavaOnevisionImageProcessor', do_resize: true, size: { height: spec.imageSize, width: spec.imageSize }, resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_pad: true, do_convert_rgb: true, image_grid_pinpoints: pinpoints });
    json('processor_config.json', { image_token: '<image>', num_image_tokens: imageSeqLen(spec), processor_class: 'LlavaOnevisionProcessor', video_token: '<video>', vision_feature_select_strategy: 'full' });
  } else {
    json('config.json', { _name_or_path: spec.name, architectures: ['SmolVLMForConditionalGeneration'], model_type: 'smolvlm', image_token_id: id('<image>'), scale_factor: spec.scaleFactor ?? 1, text_config: textConfig, vision_config: { ...visionConfig, model_type: 'smolvlm_vision' }, tie_word_embeddings: t.tied, ...ids });
    json('preprocessor_config.json', { processor_class: 'SmolVLMProcessor', image_processor_type: 'SmolVLMImageProcessor', do_resize: true, size: { longest_edge: spec.longestEdge ?? spec.imageSize * 2 }, resample: 1, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_image_splitting: true, max_image_size: { longest_edge: spec.imageSize }, do_pad: true, do_convert_rgb: true });
    json('processor_config.json', { processor_class: 'SmolVLMProcessor', image_seq_len: imageSeqLen(spec) });
  }
  json('generation_config.json', { ...ids, eos_token_id: [id(eos)] });
  return vocabSize;
}

export function writeVlmModel(spec: VlmSpec, dir: string): void {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  const vocabSize = writeSideFiles(spec, dir);
  const vision = () => (spec.kind === 'llava' ? llavaVision(spec) : spec.kind === 'llava_onevision' ? llavaOnevisionVision(spec) : smolvlmVision(spec));
  saveModel(vision(), join(dir, 'onnx', 'vision_encoder.onnx'));
  saveModel(embedTokens(spec, vocabSize), join(dir, 'onnx', 'embed_tokens.onnx'));
  saveModel(llmGraph({ ...spec.text, name: spec.name }, vocabSize, new WeightBank(spec.text.seed), true), join(dir, 'onnx', 'decoder_model_merged.onnx'));
  if (!spec.fp16) return;
  // The same weights in float16. pixel_values stays float32: transformers.js feeds the processor's float32 pixels
  // to every variant; the features, embeddings, KV cache and logits are float16.
  saveModel(toFloat16(vision(), { keepFloat32: ['pixel_values'] }), join(dir, 'onnx', 'vision_encoder_fp16.onnx'));
  saveModel(toFloat16(embedTokens(spec, vocabSize)), join(dir, 'onnx', 'embed_tokens_fp16.onnx'));
  saveModel(toFloat16(llmGraph({ ...spec.text, name: spec.name }, vocabSize, new WeightBank(spec.text.seed), true)), join(dir, 'onnx', 'decoder_model_merged_fp16.onnx'));
}

function specHash(spec: VlmSpec): string {
  return createHash('sha256').update(JSON.stringify([GENERATOR_VERSION, spec])).digest('hex').slice(0, 12);
}

/** The folder of the VLM `spec` describes, generated once. */
export function ensureVlmModel(spec: VlmSpec, root: string = TEST_MODELS_DIR): Promise<string> {
  return generateOnce(root, `${spec.name}-${specHash(spec)}`, (temp) => writeVlmModel(spec, temp));
}
