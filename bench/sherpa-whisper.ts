/**
 * Writes a Whisper export folder (optimum ONNX: encoder_model.onnx + decoder_model_merged.onnx, config.json and
 * the tokenizer files) as sherpa-onnx's own Whisper export, so `sherpa-onnx-node` decodes the same weights. The
 * layout is k2-fsa/sherpa-onnx `scripts/whisper/export-onnx.py` as `csrc/offline-whisper-model.cc` reads it:
 *
 * - `encoder.onnx`: `mel` [N, n_mels, T] → `n_layer_cross_k`, `n_layer_cross_v` [n_text_layer, N, T/2, D]: the
 *   audio encoder (positions sliced to T/2, so T may be under 3000) followed by every decoder layer's
 *   cross-attention key and value projections. Its metadata holds the dims and the special token ids
 *   (`n_mels`, `n_text_layer`, `n_text_ctx`, `n_text_state`, `n_vocab`, `sot`, `eot`, `blank_id`, `translate`,
 *   `transcribe`, `is_multilingual`, `no_timestamps`, `no_speech`, `sot_sequence`, `all_language_tokens`,
 *   `all_language_codes`, …): sherpa-onnx exits when one it reads is missing.
 * - `decoder.onnx`: `tokens` int64 [N, n], `in_n_layer_self_k_cache` / `in_n_layer_self_v_cache`
 *   [n_text_layer, N, n_text_ctx, D] (a fixed-size cache, rows ≥ offset + n unused), `n_layer_cross_k/v`,
 *   `offset` int64 [1] → `logits` [N, n, n_vocab], `out_n_layer_self_k_cache` / `out_n_layer_self_v_cache`
 *   (the input caches with rows offset … offset + n - 1 written).
 * - `tokens.txt`: per BPE token (ids 0 … eot - 1, as whisper's tiktoken file ranks them) its bytes in base64, a
 *   space, its id. Special tokens are absent: sherpa-onnx leaves ids it does not find out of the text.
 *
 * The graphs are built with the test models' layer builders (test/models/layers.ts) over the stored weights, so the
 * attention is HF's (q scaled by Dh^-½) where the torch export has openai's (q and k by Dh^-¼ each): equal up to
 * float rounding.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadWhisperTokenizer } from '../src/text/index.js';
import { decodeModel } from '../src/runtime/onnx/index.js';
import { GraphBuilder, attr, modelProto, saveModel, type ModelProto, type TensorProto } from '../test/models/onnx-builder.js';
import { Layers, WeightBank, causalMask, dimOf, mergeHeads, sliceRows, splitHeads, toVector } from '../test/models/layers.js';

/** The files sherpa-onnx's OfflineWhisperModelConfig and OfflineModelConfig.tokens name. */
export interface SherpaWhisperFiles {
  encoder: string;
  decoder: string;
  tokens: string;
}

interface WhisperConfig {
  d_model: number;
  encoder_layers: number;
  decoder_layers: number;
  encoder_attention_heads: number;
  decoder_attention_heads: number;
  encoder_ffn_dim: number;
  decoder_ffn_dim: number;
  num_mel_bins: number;
  vocab_size: number;
  max_source_positions: number;
  max_target_positions: number;
}

/**
 * The stored weights of an export as a WeightBank: the layer builders ask for a tensor by name (with the shape a
 * random draw would have) and get the stored one. A missing or misshapen tensor is an error, never a draw.
 */
class StoredWeights extends WeightBank {
  constructor(private readonly stored: ReadonlyMap<string, TensorProto>) {
    super(0);
  }

  override normal(name: string, dims: readonly number[]): TensorProto {
    return this.lookup(name, dims);
  }

  override custom(name: string, dims: readonly number[]): TensorProto {
    return this.lookup(name, dims);
  }

  lookup(name: string, dims: readonly number[]): TensorProto {
    const t = this.stored.get(name);
    if (!t) throw new Error(`sherpa-onnx export: the model has no weight ${name}`);
    const have = (t.dims ?? []).map(Number);
    if (have.join() !== dims.join()) throw new Error(`sherpa-onnx export: ${name} is [${have}], expected [${dims}]`);
    return t;
  }
}

type NodeProto = NonNullable<NonNullable<ModelProto['graph']>['node']>[number];

/** Every node of a graph, its subgraphs' (the merged decoder's `If` branches) included. */
function* allNodes(nodes: readonly NodeProto[]): Generator<NodeProto> {
  for (const node of nodes) {
    yield node;
    for (const a of node.attribute ?? []) if (a.g) yield* allNodes(a.g.node ?? []);
  }
}

/** The HF name of a tensor name the exporter kept: `model.…` (our generator) or `m.model.…` (a torch export). */
function hfName(name: string): string | undefined {
  return /^(?:m\.)?(model\..+)$/.exec(name)?.[1];
}

/**
 * The HF name of an anonymous linear weight (`onnx::MatMul_N`, stored [in, out]) from the node that reads it: the
 * torch exporter names it `/decoder/layers.0/q_proj_1/MatMul`, where `_1` is the layer's second attention (the
 * cross-attention) in the decoder.
 */
function linearName(nodeName: string): string | undefined {
  const m = /^\/(encoder|decoder)\/layers\.(\d+)\/(?:(?:self_attn|encoder_attn)\/)?(q_proj|k_proj|v_proj|out_proj|fc1|fc2)(_1)?\/MatMul$/.exec(nodeName);
  if (!m) return undefined;
  const [, side, layer, part, second] = m;
  const module = part.startsWith('fc') ? part : `${side === 'decoder' && second ? 'encoder_attn' : 'self_attn'}.${part}`;
  return `model.${side}.layers.${layer}.${module}.weight`;
}

/**
 * The float weights of the ONNX files by HF name (as stored: the graphs reuse the TensorProtos unchanged). Names
 * come from the initializers themselves, from the Identity nodes a torch export adds for weights equal to another
 * (layer norms of one value), and from the MatMul nodes reading anonymous weights.
 */
function storedWeights(paths: readonly string[]): Map<string, TensorProto> {
  const out = new Map<string, TensorProto>();
  for (const path of paths) {
    const graph = decodeModel(readFileSync(path)).graph;
    const byName = new Map<string, TensorProto>();
    for (const t of graph?.initializer ?? []) if (t.name && t.dataType === 1) byName.set(t.name, t);
    for (const [name, t] of byName) {
      const hf = hfName(name);
      if (hf) out.set(hf, t);
    }
    for (const node of allNodes(graph?.node ?? [])) {
      const source = byName.get(node.input?.[node.opType === 'MatMul' ? 1 : 0] ?? '');
      if (!source) continue;
      const alias = node.opType === 'Identity' ? hfName(node.output?.[0] ?? '') : node.opType === 'MatMul' ? linearName(node.name ?? '') : undefined;
      if (alias && !out.has(alias)) out.set(alias, source);
    }
  }
  return out;
}

/** Exact GELU Conv1d (kernel 3, pad 1) of the encoder stem. */
function conv(L: Layers, input: string, name: string, inChannels: number, outChannels: number, stride: number): string {
  const w = L.param(L.bank.normal(`model.encoder.${name}.weight`, [outChannels, inChannels, 3], 0));
  const b = L.param(L.bank.normal(`model.encoder.${name}.bias`, [outChannels], 0));
  const attributes = { dilations: attr.ints([1]), group: attr.int(1), kernel_shape: attr.ints([3]), pads: attr.ints([1, 1]), strides: attr.ints([stride]) };
  return L.gelu(L.g.op('Conv', [input, w, b], attributes));
}

/** encoder.onnx: mel → the stacked cross-attention keys and values of every decoder layer. */
function encoderGraph(c: WhisperConfig, bank: WeightBank): ModelProto {
  const d = c.d_model;
  const g = new GraphBuilder('sherpa_whisper_encoder');
  const L = new Layers(g, bank);
  const mel = g.input('mel', 'float32', ['n_audio', c.num_mel_bins, 'T']);
  const h = g.op('Transpose', [conv(L, conv(L, mel, 'conv1', c.num_mel_bins, d, 1), 'conv2', d, d, 2)], { perm: attr.ints([0, 2, 1]) });
  // export-onnx.py's change to openai's encoder: positions [:T/2], so windows shorter than 30 s are accepted.
  const table = L.param(bank.custom('model.encoder.embed_positions.weight', [c.max_source_positions, d], () => new Float32Array(0)));
  let x = g.op('Add', [h, sliceRows(g, table, g.int64(0), dimOf(g, h, 1))]);
  for (let i = 0; i < c.encoder_layers; i++) {
    const p = `model.encoder.layers.${i}`;
    const att = L.attention({ name: `${p}.self_attn`, query: L.layerNorm(x, `${p}.self_attn_layer_norm`, d), dim: d, heads: c.encoder_attention_heads, keyBias: false });
    const y = g.op('Add', [x, att.output]);
    x = g.op('Add', [y, L.mlp(L.layerNorm(y, `${p}.final_layer_norm`, d), p, d, c.encoder_ffn_dim)]);
  }
  const audio = L.layerNorm(x, 'model.encoder.layer_norm', d);
  const stack = (kind: 'k_proj' | 'v_proj', output: string) => {
    const layers = Array.from({ length: c.decoder_layers }, (_, i) => {
      const projected = L.linear(audio, `model.decoder.layers.${i}.encoder_attn.${kind}`, d, d, kind === 'v_proj');
      return g.op('Unsqueeze', [projected, g.int64s([0])]);
    });
    g.op('Concat', layers, { axis: attr.int(0) }, output);
    g.output(output, 'float32', [c.decoder_layers, 'n_audio', 'T_audio', d]);
  };
  stack('k_proj', 'n_layer_cross_k');
  stack('v_proj', 'n_layer_cross_v');
  return modelProto(g.build());
}

/** Rows [from, to) of axis 1 of x (int64 scalars; `to` may be past the end). */
function rows(g: GraphBuilder, x: string, from: string, to: string): string {
  return g.op('Slice', [x, toVector(g, from), toVector(g, to), g.int64s([1])]);
}

/** decoder.onnx: one pass over `tokens` at `offset`, reading and writing the fixed-size self-attention cache. */
function decoderGraph(c: WhisperConfig, bank: WeightBank): ModelProto {
  const d = c.d_model;
  const heads = c.decoder_attention_heads;
  const g = new GraphBuilder('sherpa_whisper_decoder');
  const L = new Layers(g, bank);
  const cache = [c.decoder_layers, 'n_audio', c.max_target_positions, d];
  const cross = [c.decoder_layers, 'n_audio', 'T_audio', d];
  g.input('tokens', 'int64', ['n_audio', 'n_tokens']);
  g.input('in_n_layer_self_k_cache', 'float32', cache);
  g.input('in_n_layer_self_v_cache', 'float32', cache);
  g.input('n_layer_cross_k', 'float32', cross);
  g.input('n_layer_cross_v', 'float32', cross);
  g.input('offset', 'int64', [1]);
  const embed = L.param(bank.normal('model.decoder.embed_tokens.weight', [c.vocab_size, d], 0));
  const positions = L.param(bank.normal('model.decoder.embed_positions.weight', [c.max_target_positions, d], 0));
  const offset = g.op('Squeeze', ['offset', g.int64s([0])]);
  const length = dimOf(g, 'tokens', 1);
  const end = g.op('Add', [offset, length]);
  const mask = causalMask(g, offset, length);
  let x = g.op('Add', [g.op('Gather', [embed, 'tokens'], { axis: attr.int(0) }), sliceRows(g, positions, offset, length)]);
  const layerOf = (stacked: string, i: number) => g.op('Gather', [stacked, g.int64(i)], { axis: attr.int(0) });
  const newKeys: string[] = [];
  const newValues: string[] = [];
  for (let i = 0; i < c.decoder_layers; i++) {
    const p = `model.decoder.layers.${i}`;
    const cacheK = layerOf('in_n_layer_self_k_cache', i);
    const cacheV = layerOf('in_n_layer_self_v_cache', i);
    const self = L.attention({
      name: `${p}.self_attn`,
      query: L.layerNorm(x, `${p}.self_attn_layer_norm`, d),
      dim: d,
      heads,
      keyBias: false,
      mask,
      pastKey: splitHeads(g, rows(g, cacheK, g.int64(0), offset), heads, d / heads),
      pastValue: splitHeads(g, rows(g, cacheV, g.int64(0), offset), heads, d / heads),
    });
    // The written cache: rows [0, offset + n) are the keys used, the rest are the input's rows, unchanged.
    const written = (used: string, old: string) =>
      g.op('Unsqueeze', [g.op('Concat', [mergeHeads(g, used, d), rows(g, old, end, g.int64(c.max_target_positions))], { axis: attr.int(1) }), g.int64s([0])]);
    newKeys.push(written(self.key, cacheK));
    newValues.push(written(self.value, cacheV));
    const h = g.op('Add', [x, self.output]);
    const crossAtt = L.attention({
      name: `${p}.encoder_attn`,
      query: L.layerNorm(h, `${p}.encoder_attn_layer_norm`, d),
      dim: d,
      heads,
      cachedKey: splitHeads(g, layerOf('n_layer_cross_k', i), heads, d / heads),
      cachedValue: splitHeads(g, layerOf('n_layer_cross_v', i), heads, d / heads),
    });
    const h2 = g.op('Add', [h, crossAtt.output]);
    x = g.op('Add', [h2, L.mlp(L.layerNorm(h2, `${p}.final_layer_norm`, d), p, d, c.decoder_ffn_dim)]);
  }
  const normed = L.layerNorm(x, 'model.decoder.layer_norm', d);
  // The output projection is tied to the token embedding: logits = h @ embedᵀ.
  g.op('MatMul', [normed, g.op('Transpose', [embed], { perm: attr.ints([1, 0]) })], {}, 'logits');
  g.output('logits', 'float32', ['n_audio', 'n_tokens', c.vocab_size]);
  g.op('Concat', newKeys, { axis: attr.int(0) }, 'out_n_layer_self_k_cache');
  g.op('Concat', newValues, { axis: attr.int(0) }, 'out_n_layer_self_v_cache');
  g.output('out_n_layer_self_k_cache', 'float32', cache);
  g.output('out_n_layer_self_v_cache', 'float32', cache);
  return modelProto(g.build());
}

/** export-onnx.py's encoder metadata, from the export's config and tokenizer. */
async function encoderMetadata(modelDir: string, c: WhisperConfig): Promise<Record<string, string | number>> {
  const tok = await loadWhisperTokenizer(modelDir);
  const sotSequence = tok.sotSequence(tok.isMultilingual ? 'en' : undefined, 'transcribe');
  return {
    model_type: 'whisper-moxing',
    version: '1',
    maintainer: 'k2-fsa',
    n_mels: c.num_mel_bins,
    n_audio_ctx: c.max_source_positions,
    n_audio_state: c.d_model,
    n_audio_head: c.encoder_attention_heads,
    n_audio_layer: c.encoder_layers,
    n_vocab: c.vocab_size,
    n_text_ctx: c.max_target_positions,
    n_text_state: c.d_model,
    n_text_head: c.decoder_attention_heads,
    n_text_layer: c.decoder_layers,
    sot_sequence: sotSequence.join(','),
    all_language_tokens: tok.languageTokens.map((l) => l.id).join(','),
    all_language_codes: tok.languageTokens.map((l) => l.code).join(','),
    sot: tok.sot,
    sot_index: sotSequence.indexOf(tok.sot),
    eot: tok.eot,
    blank_id: tok.encode(' ')[0],
    is_multilingual: tok.isMultilingual ? 1 : 0,
    no_speech: tok.noSpeech,
    non_speech_tokens: tok.nonSpeechTokens().join(','),
    transcribe: tok.transcribe,
    translate: tok.translate,
    sot_prev: tok.sotPrev,
    sot_lm: tok.sotLm,
    no_timestamps: tok.noTimestamps,
  };
}

/** tokens.txt: `<base64 bytes> <id>` for ids 0 … eot - 1 (whisper's tiktoken ranks). */
async function tokensText(modelDir: string): Promise<string> {
  const tok = await loadWhisperTokenizer(modelDir);
  const lines: string[] = [];
  for (let id = 0; id < tok.eot; id++) lines.push(`${Buffer.from(tok.tokenBytes(id)).toString('base64')} ${id}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the sherpa-onnx export of `modelDir` into `outDir` (replaced atomically: written to a temporary folder,
 * then renamed into place) and returns its files.
 */
export async function writeSherpaWhisper(modelDir: string, outDir: string): Promise<SherpaWhisperFiles> {
  const c = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as WhisperConfig;
  if (c.encoder_attention_heads !== c.decoder_attention_heads) throw new Error('sherpa-onnx export: encoder and decoder head counts differ');
  const onnx = join(modelDir, 'onnx');
  const bank = new StoredWeights(storedWeights([join(onnx, 'encoder_model.onnx'), join(onnx, 'decoder_model_merged.onnx')]));
  const metadata = await encoderMetadata(modelDir, c);
  const encoder: ModelProto = { ...encoderGraph(c, bank), metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value: String(value) })) };
  const decoder = decoderGraph(c, bank);
  const temp = `${outDir}.tmp-${process.pid}`;
  try {
    mkdirSync(temp, { recursive: true });
    saveModel(encoder, join(temp, 'encoder.onnx'));
    saveModel(decoder, join(temp, 'decoder.onnx'));
    writeFileSync(join(temp, 'tokens.txt'), await tokensText(modelDir));
    rmSync(outDir, { recursive: true, force: true });
    renameSync(temp, outDir);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return sherpaWhisperFiles(outDir);
}

/** The files of a sherpa-onnx export folder. */
export function sherpaWhisperFiles(dir: string): SherpaWhisperFiles {
  return { encoder: join(dir, 'encoder.onnx'), decoder: join(dir, 'decoder.onnx'), tokens: join(dir, 'tokens.txt') };
}
