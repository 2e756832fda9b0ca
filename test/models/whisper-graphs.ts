/**
 * The ONNX graphs of a random-weight Whisper, in optimum's export layout (what the onnx-community repos ship and
 * `../shared/models/whisper-tiny-random/` shows): the encoder, the split decoder pair, and the merged decoder whose
 * `If` node picks the no-past or the with-past branch on `use_cache_branch`.
 *
 * The maths is HF's WhisperModel: two Conv1d (k=3, stride 1 then 2) with GELU, sinusoidal positions and pre-LN
 * blocks in the encoder; learned positions (offset by the cached length), causal self-attention with a KV cache,
 * cross-attention and a tied output projection in the decoder.
 */
import { GraphBuilder, attr, modelProto, tensor, type DType, type Dim, type ModelProto } from './onnx-builder.js';
import { Layers, WeightBank, causalMask, dimOf, sliceRows, type InitScales, DEFAULT_INIT } from './layers.js';

/** Sizes of one Whisper network, as config.json records them too. */
export interface WhisperSizes {
  dModel: number;
  encoderLayers: number;
  decoderLayers: number;
  heads: number;
  encoderFfnDim: number;
  decoderFfnDim: number;
  nMels: number;
  maxTargetPositions: number;
}

/** What the graph builders need: the sizes, the vocabulary size and the weights' seed. */
export interface WhisperDims extends WhisperSizes {
  vocabSize: number;
  seed: number;
  /** The end-of-text token's embedding row drawn this many times wider (see WhisperModelSpec.eotScale). @default 1 */
  eotScale?: { token: number; factor: number };
}

/** Frames of log-mel input per 30 s window, and encoder positions after the stride-2 conv. */
export const N_FRAMES = 3000;
export const N_AUDIO_CTX = 1500;

/**
 * Initial scales, picked so a random model behaves like a trained one in the ways tests notice: projections
 * with gain 3 over fan-in make every block (and so the audio, through cross-attention) move the residual stream,
 * instead of the tied embedding echoing the last input token forever; a token embedding of std 4/√D gives logits
 * of std ≈ 4 at any width, so greedy decoding is confident (top probabilities ~0.1–0.5), not flat.
 */
const INIT: Readonly<InitScales> = { ...DEFAULT_INIT, weightStd: 3, fanIn: true };
const embedStd = (dModel: number) => 4 / Math.sqrt(dModel);

const BATCH = 'batch_size';
const DEC_LEN = 'decoder_sequence_length';
const PAST_LEN = 'past_decoder_sequence_length';
const PRESENT_LEN = 'past_decoder_sequence_length + 1';
const ENC_LEN = 'encoder_sequence_length / 2';
const ENC_OUT = 'encoder_sequence_length_out';

/** Whisper's sinusoidal encoder positions [length, channels] (openai `sinusoids`). */
export function sinusoids(length: number, channels: number): Float32Array {
  const half = channels / 2;
  const increment = Math.log(10000) / (half - 1);
  const out = new Float32Array(length * channels);
  for (let t = 0; t < length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * Math.exp(-increment * i);
      out[t * channels + i] = Math.sin(angle);
      out[t * channels + half + i] = Math.cos(angle);
    }
  }
  return out;
}

/** encoder_model.onnx: input_features [B, n_mels, 3000] → last_hidden_state [B, 1500, D]. */
export function encoderModel(dims: WhisperDims, bank: WeightBank): ModelProto {
  const { dModel: d, nMels } = dims;
  const g = new GraphBuilder('torch_jit');
  const L = new Layers(g, bank, INIT);
  const features = g.input('input_features', 'float32', [BATCH, nMels, N_FRAMES]);
  let x = g.within('encoder', () => {
    const conv = (input: string, name: string, inChannels: number, stride: number): string => {
      const std = INIT.fanIn ? INIT.weightStd / Math.sqrt(3 * inChannels) : INIT.weightStd;
      const w = L.param(bank.normal(`model.encoder.${name}.weight`, [d, inChannels, 3], std));
      const b = L.param(bank.normal(`model.encoder.${name}.bias`, [d], INIT.biasStd));
      const attributes = {
        dilations: attr.ints([1]),
        group: attr.int(1),
        kernel_shape: attr.ints([3]),
        pads: attr.ints([1, 1]),
        strides: attr.ints([stride]),
      };
      return L.gelu(g.op('Conv', [input, w, b], attributes));
    };
    const h = conv(conv(features, 'conv1', nMels, 1), 'conv2', d, 2);
    const positions = L.param(bank.custom('model.encoder.embed_positions.weight', [N_AUDIO_CTX, d], () => sinusoids(N_AUDIO_CTX, d)));
    return g.op('Add', [g.op('Transpose', [h], { perm: attr.ints([0, 2, 1]) }), positions]);
  });
  for (let i = 0; i < dims.encoderLayers; i++) {
    const p = `model.encoder.layers.${i}`;
    x = g.within(`encoder/layers.${i}`, () => {
      const normed = L.layerNorm(x, `${p}.self_attn_layer_norm`, d);
      const att = L.attention({ name: `${p}.self_attn`, query: normed, dim: d, heads: dims.heads, keyBias: false });
      const h = g.op('Add', [x, att.output]);
      return g.op('Add', [h, L.mlp(L.layerNorm(h, `${p}.final_layer_norm`, d), p, d, dims.encoderFfnDim)]);
    });
  }
  const out = g.within('encoder/layer_norm', () => L.layerNorm(x, 'model.encoder.layer_norm', d));
  g.output(out, 'float32', [BATCH, ENC_LEN, d], 'last_hidden_state');
  return modelProto(g.build());
}

/** Which inputs a decoder graph reads, and which extra outputs it gives. */
interface DecoderMode {
  /** Reads past_key_values.*: self-attention keys are appended to the cache, cross-attention reuses it. */
  withPast: boolean;
  /** Outputs present.{i}.encoder.*: computed (no past), or optimum's empty constants (merged with-past branch). */
  encoderPresents: 'computed' | 'empty' | 'none';
  /** Also outputs cross_attentions.{i} [B, H, T, 1500] (the `_timestamped` export). */
  crossAttentions: boolean;
}

const pastName = (i: number, side: 'decoder' | 'encoder', kv: 'key' | 'value') => `past_key_values.${i}.${side}.${kv}`;
const presentName = (i: number, side: 'decoder' | 'encoder', kv: 'key' | 'value') => `present.${i}.${side}.${kv}`;

/** Declares the decoder's graph inputs. */
function decoderInputs(g: GraphBuilder, dims: WhisperDims, opts: { ids: Dim; encoder: boolean; past: boolean }): void {
  const headDim = dims.dModel / dims.heads;
  g.input('input_ids', 'int64', [BATCH, opts.ids]);
  if (opts.encoder) g.input('encoder_hidden_states', 'float32', [BATCH, ENC_LEN, dims.dModel]);
  if (!opts.past) return;
  for (let i = 0; i < dims.decoderLayers; i++) {
    for (const kv of ['key', 'value'] as const) g.input(pastName(i, 'decoder', kv), 'float32', [BATCH, dims.heads, PAST_LEN, headDim]);
    for (const kv of ['key', 'value'] as const) g.input(pastName(i, 'encoder', kv), 'float32', [BATCH, dims.heads, ENC_OUT, headDim]);
  }
}

/** The decoder's outputs in export order, with types. */
function decoderOutputs(dims: WhisperDims, mode: DecoderMode, logitsLength: Dim): Array<[string, DType, Dim[]]> {
  const headDim = dims.dModel / dims.heads;
  const out: Array<[string, DType, Dim[]]> = [['logits', 'float32', [BATCH, logitsLength, dims.vocabSize]]];
  for (let i = 0; i < dims.decoderLayers; i++) {
    for (const kv of ['key', 'value'] as const) out.push([presentName(i, 'decoder', kv), 'float32', [BATCH, dims.heads, PRESENT_LEN, headDim]]);
    if (mode.encoderPresents !== 'none') {
      for (const kv of ['key', 'value'] as const) out.push([presentName(i, 'encoder', kv), 'float32', [BATCH, dims.heads, ENC_OUT, headDim]]);
    }
  }
  if (mode.crossAttentions) {
    for (let i = 0; i < dims.decoderLayers; i++) out.push([`cross_attentions.${i}`, 'float32', [BATCH, dims.heads, DEC_LEN, ENC_OUT]]);
  }
  return out;
}

/** Adds the decoder's nodes to `g`; node outputs carry the graph-output names directly. */
function decoderBody(g: GraphBuilder, dims: WhisperDims, bank: WeightBank, mode: DecoderMode): void {
  const { dModel: d, heads } = dims;
  const headDim = d / heads;
  const L = new Layers(g, bank, INIT);
  const rows = new Map(dims.eotScale ? [[dims.eotScale.token, dims.eotScale.factor]] : []);
  const embed = L.param(bank.normalScaledRows('model.decoder.embed_tokens.weight', [dims.vocabSize, d], embedStd(d), rows));
  const positions = L.param(bank.normal('model.decoder.embed_positions.weight', [dims.maxTargetPositions, d], embedStd(d)));
  let mask = '';
  let x = g.within('decoder', () => {
    const length = dimOf(g, 'input_ids', 1);
    // Positions continue after the cached tokens: the learned table is read at P … P+T-1.
    const past = mode.withPast ? dimOf(g, pastName(0, 'decoder', 'key'), 2) : g.int64(0);
    mask = causalMask(g, past, length);
    const tokens = g.op('Gather', [embed, 'input_ids'], { axis: attr.int(0) });
    return g.op('Add', [tokens, sliceRows(g, positions, past, length)]);
  });
  for (let i = 0; i < dims.decoderLayers; i++) {
    const p = `model.decoder.layers.${i}`;
    x = g.within(`decoder/layers.${i}`, () => {
      const self = L.attention({
        name: `${p}.self_attn`,
        query: L.layerNorm(x, `${p}.self_attn_layer_norm`, d),
        dim: d,
        heads,
        keyBias: false,
        mask,
        ...(mode.withPast ? { pastKey: pastName(i, 'decoder', 'key'), pastValue: pastName(i, 'decoder', 'value') } : {}),
        keyOutput: presentName(i, 'decoder', 'key'),
        valueOutput: presentName(i, 'decoder', 'value'),
      });
      const h = g.op('Add', [x, self.output]);
      const computed = mode.encoderPresents === 'computed';
      const cross = L.attention({
        name: `${p}.encoder_attn`,
        query: L.layerNorm(h, `${p}.encoder_attn_layer_norm`, d),
        keyValue: 'encoder_hidden_states',
        dim: d,
        heads,
        keyBias: false,
        ...(mode.withPast ? { cachedKey: pastName(i, 'encoder', 'key'), cachedValue: pastName(i, 'encoder', 'value') } : {}),
        ...(computed ? { keyOutput: presentName(i, 'encoder', 'key'), valueOutput: presentName(i, 'encoder', 'value') } : {}),
        ...(mode.crossAttentions ? { probsOutput: `cross_attentions.${i}` } : {}),
      });
      if (mode.encoderPresents === 'empty') {
        // optimum's merged with-past branch returns empty encoder presents: callers keep the step-1 ones.
        const empty = tensor('', 'float32', [0, heads, 1, headDim], new Float32Array(0));
        for (const kv of ['key', 'value'] as const) g.node('Constant', [], { value: attr.tensor(empty) }, [presentName(i, 'encoder', kv)]);
      }
      const h2 = g.op('Add', [h, cross.output]);
      return g.op('Add', [h2, L.mlp(L.layerNorm(h2, `${p}.final_layer_norm`, d), p, d, dims.decoderFfnDim)]);
    });
  }
  const normed = g.within('decoder/layer_norm', () => L.layerNorm(x, 'model.decoder.layer_norm', d));
  // Tied output projection, as exported: logits = h @ embed_tokensᵀ.
  const projection = g.within('proj_out', () => g.op('Transpose', [embed], { perm: attr.ints([1, 0]) }));
  g.op('MatMul', [normed, projection], {}, 'logits');
}

/** decoder_model.onnx: input_ids + encoder_hidden_states → logits and all presents. */
export function decoderModel(dims: WhisperDims, bank: WeightBank): ModelProto {
  const g = new GraphBuilder('torch_jit');
  const mode: DecoderMode = { withPast: false, encoderPresents: 'computed', crossAttentions: false };
  decoderInputs(g, dims, { ids: DEC_LEN, encoder: true, past: false });
  decoderBody(g, dims, bank, mode);
  for (const [name, dtype, shape] of decoderOutputs(dims, mode, DEC_LEN)) g.output(name, dtype, shape);
  return modelProto(g.build());
}

/** decoder_with_past_model.onnx: one new token + past_key_values → logits and the decoder presents. */
export function decoderWithPastModel(dims: WhisperDims, bank: WeightBank): ModelProto {
  const g = new GraphBuilder('torch_jit');
  const mode: DecoderMode = { withPast: true, encoderPresents: 'none', crossAttentions: false };
  decoderInputs(g, dims, { ids: 1, encoder: false, past: true });
  decoderBody(g, dims, bank, mode);
  // The export names the logits' length dim_param "1" (a symbolic name), while input_ids has a fixed 1.
  for (const [name, dtype, shape] of decoderOutputs(dims, mode, '1')) g.output(name, dtype, shape);
  return modelProto(g.build());
}

/**
 * decoder_model_merged.onnx (and `_timestamped` with cross_attentions): every input of both decoders plus
 * `use_cache_branch` bool [1], one `If` node, the weights as top-level initializers shared by both branches.
 */
export function decoderMergedModel(dims: WhisperDims, bank: WeightBank, crossAttentions: boolean): ModelProto {
  const top = new GraphBuilder('merged');
  decoderInputs(top, dims, { ids: DEC_LEN, encoder: true, past: true });
  top.input('use_cache_branch', 'bool', [1]);
  const branch = (name: string, mode: DecoderMode) => {
    const g = new GraphBuilder(name, { initializerScope: top });
    decoderBody(g, dims, bank, mode);
    for (const [out, dtype, shape] of decoderOutputs(dims, mode, DEC_LEN)) g.output(out, dtype, shape);
    return g.build();
  };
  const withPast = branch('with_past', { withPast: true, encoderPresents: 'empty', crossAttentions });
  const noPast = branch('no_past', { withPast: false, encoderPresents: 'computed', crossAttentions });
  const outputs = decoderOutputs(dims, { withPast: false, encoderPresents: 'computed', crossAttentions }, DEC_LEN);
  const branches = { then_branch: attr.graph(withPast), else_branch: attr.graph(noPast) };
  top.node('If', ['use_cache_branch'], branches, outputs.map(([n]) => n), '', 'optimum::if');
  for (const [name, dtype, shape] of outputs) top.output(name, dtype, shape);
  return modelProto(top.build(), { producerName: 'optimum-onnx', producerVersion: '' });
}
