/**
 * Writes a Whisper export folder (optimum ONNX: encoder_model.onnx + decoder_model_merged.onnx, config.json,
 * vocab.json) as a whisper.cpp model in its legacy ggml format (`ggml-*.bin`), so the benchmark can run
 * `whisper-cli` on the same weights. The layout is whisper.cpp's `models/convert-h5-to-ggml.py` and the loader in
 * `src/whisper.cpp` (`whisper_model_load`):
 *
 * - magic 0x67676d6c; eleven int32 hparams (n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
 *   n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype);
 * - the mel filters: int32 n_mel, int32 n_fft (bins), then n_mel × n_fft float32;
 * - the vocabulary: int32 count, then per token int32 length + its bytes (GPT-2 byte-decoded), in id order;
 * - tensors until EOF: int32 n_dims, int32 name length, int32 type, n_dims int32 extents (ggml order: innermost
 *   first, i.e. torch's shape reversed), the name, the data.
 *
 * Types follow the converter and `whisper-quantize`: 1-D tensors, the conv biases ([n_state, 1]) and both
 * positional embeddings stay float32; the conv kernels are float16 in either file (3-D, never quantized); every
 * other 2-D tensor is float16 (f16) or q8_0 (blocks of 32: a float16 scale amax/127, then 32 int8). The q8_0 file's
 * ftype is GGML_QNT_VERSION × 1000 + GGML_FTYPE_MOSTLY_Q8_0 = 2007, as whisper-quantize writes it.
 * Linear weights are stored [in, out] in the ONNX files (torch exports x @ Wᵀ): they are transposed back to torch's
 * [out, in]. The output projection is tied to the token embedding, so there is no `decoder.proj.weight`.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { melFilters } from '../src/audio/index.js';
import { bytesToUnicode } from '../src/text/index.js';
import { decodeModel } from '../src/runtime/onnx/index.js';

export const GGML_MAGIC = 0x67676d6c;
export const QK8_0 = 32;
/** ggml_type ids. */
export const GGML_TYPE = { f32: 0, f16: 1, q8_0: 8 } as const;
export type GgmlTensorType = keyof typeof GGML_TYPE;
/** The weights' precision of a whole file: the hparams' ftype (whisper-quantize's, for q8_0). */
export type GgmlWeightType = 'f16' | 'q8_0';
export const GGML_FTYPE: Record<GgmlWeightType, number> = { f16: 1, q8_0: 2 * 1000 + 7 };

export const WHISPER_HPARAM_NAMES = [
  'n_vocab',
  'n_audio_ctx',
  'n_audio_state',
  'n_audio_head',
  'n_audio_layer',
  'n_text_ctx',
  'n_text_state',
  'n_text_head',
  'n_text_layer',
  'n_mels',
  'ftype',
] as const;
export type WhisperHparams = Record<(typeof WHISPER_HPARAM_NAMES)[number], number>;

/** One tensor as the file holds it: `shape` in torch order (the file stores it reversed). */
export interface GgmlTensor {
  name: string;
  shape: number[];
  type: GgmlTensorType;
  data: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------------------
// Number formats

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even (what ggml's GGML_FP32_TO_FP16 does on x86 F16C). */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rest > mid || (rest === mid && (half & 1)) ? half + 1 : half);
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? half + 1 : half);
}

/** IEEE half bits → number. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function halfBytes(values: Float32Array): Uint8Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]);
  return new Uint8Array(out.buffer);
}

/** ggml's quantize_row_q8_0_ref: per 32 values a float16 scale d = amax / 127, then round(x / d) as int8. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % QK8_0 !== 0) throw new Error(`q8_0 needs a multiple of ${QK8_0} values, got ${values.length}`);
  const blocks = values.length / QK8_0;
  const out = new Uint8Array(blocks * (2 + QK8_0));
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(values[b * QK8_0 + j]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const at = b * (2 + QK8_0);
    view.setUint16(at, toHalf(d), true);
    for (let j = 0; j < QK8_0; j++) view.setInt8(at + 2 + j, roundHalfAway(Math.fround(values[b * QK8_0 + j] * id)));
  }
  return out;
}

/** C's roundf: halves away from zero. */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** The values of a q8_0 tensor (d × q per element). */
export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  const blocks = bytes.length / (2 + QK8_0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(blocks * QK8_0);
  for (let b = 0; b < blocks; b++) {
    const at = b * (2 + QK8_0);
    const d = fromHalf(view.getUint16(at, true));
    for (let j = 0; j < QK8_0; j++) out[b * QK8_0 + j] = d * view.getInt8(at + 2 + j);
  }
  return out;
}

/** Bytes of `count` elements of `type`. */
export function ggmlBytes(type: GgmlTensorType, count: number): number {
  return type === 'f32' ? 4 * count : type === 'f16' ? 2 * count : (count / QK8_0) * (2 + QK8_0);
}

// ---------------------------------------------------------------------------------------------------------------
// Weights

interface OnnxWeight {
  dims: number[];
  values: Float32Array;
}

function onnxWeights(path: string): Map<string, OnnxWeight> {
  const model = decodeModel(readFileSync(path));
  const out = new Map<string, OnnxWeight>();
  for (const t of model.graph?.initializer ?? []) {
    if (!t.name || t.dataType !== 1) continue;
    const dims = (t.dims ?? []).map(Number);
    let values: Float32Array;
    if (t.rawData && t.rawData.length > 0) {
      const raw = t.rawData;
      values = new Float32Array(raw.byteLength / 4);
      new Uint8Array(values.buffer).set(raw);
    } else {
      values = Float32Array.from(t.floatData ?? []);
    }
    out.set(t.name, { dims, values });
  }
  return out;
}

/** [rows, cols] → [cols, rows]. */
function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/** HF (optimum) name → whisper.cpp name, as convert-h5-to-ggml.py maps them. */
export function whisperCppName(hfName: string): string {
  const direct: Record<string, string> = {
    'model.encoder.conv1.weight': 'encoder.conv1.weight',
    'model.encoder.conv1.bias': 'encoder.conv1.bias',
    'model.encoder.conv2.weight': 'encoder.conv2.weight',
    'model.encoder.conv2.bias': 'encoder.conv2.bias',
    'model.encoder.embed_positions.weight': 'encoder.positional_embedding',
    'model.encoder.layer_norm.weight': 'encoder.ln_post.weight',
    'model.encoder.layer_norm.bias': 'encoder.ln_post.bias',
    'model.decoder.embed_positions.weight': 'decoder.positional_embedding',
    'model.decoder.embed_tokens.weight': 'decoder.token_embedding.weight',
    'model.decoder.layer_norm.weight': 'decoder.ln.weight',
    'model.decoder.layer_norm.bias': 'decoder.ln.bias',
  };
  if (direct[hfName]) return direct[hfName];
  const m = /^model\.(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  if (!m) throw new Error(`no whisper.cpp name for ${hfName}`);
  const [, side, layer, part, kind] = m;
  const parts: Record<string, string> = {
    'self_attn.q_proj': 'attn.query',
    'self_attn.k_proj': 'attn.key',
    'self_attn.v_proj': 'attn.value',
    'self_attn.out_proj': 'attn.out',
    self_attn_layer_norm: 'attn_ln',
    'encoder_attn.q_proj': 'cross_attn.query',
    'encoder_attn.k_proj': 'cross_attn.key',
    'encoder_attn.v_proj': 'cross_attn.value',
    'encoder_attn.out_proj': 'cross_attn.out',
    encoder_attn_layer_norm: 'cross_attn_ln',
    fc1: 'mlp.0',
    fc2: 'mlp.2',
    final_layer_norm: 'mlp_ln',
  };
  if (!parts[part]) throw new Error(`no whisper.cpp name for ${hfName}`);
  return `${side}.blocks.${layer}.${parts[part]}.${kind}`;
}

/** Names kept float32 in both files (convert-h5-to-ggml.py and whisper-quantize's skip list). */
const KEEP_F32 = new Set(['encoder.conv1.bias', 'encoder.conv2.bias', 'encoder.positional_embedding', 'decoder.positional_embedding']);

/** The tensors of the file, in the exports' initializer order (encoder, then decoder). */
export function* whisperGgmlTensors(modelDir: string, weights: GgmlWeightType): Generator<GgmlTensor> {
  for (const file of ['encoder_model.onnx', 'decoder_model_merged.onnx']) {
    for (const [hfName, w] of onnxWeights(join(modelDir, 'onnx', file))) {
      const name = whisperCppName(hfName);
      let shape = w.dims;
      let values = w.values;
      // Linear weights: ONNX [in, out] → torch [out, in]. Embeddings and conv kernels are torch's layout already.
      if (/\.(query|key|value|out|mlp\.0|mlp\.2)\.weight$/.test(name)) {
        values = transpose(values, shape[0], shape[1]);
        shape = [shape[1], shape[0]];
      }
      // The converter reshapes the conv biases to [n_state, 1].
      if (name.endsWith('conv1.bias') || name.endsWith('conv2.bias')) shape = [shape[0], 1];
      const type: GgmlTensorType =
        shape.length < 2 || KEEP_F32.has(name) ? 'f32' : shape.length === 3 || weights === 'f16' ? 'f16' : 'q8_0';
      const data = type === 'f32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : type === 'f16' ? halfBytes(values) : quantizeQ8_0(values);
      yield { name, shape, type, data };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The file

function int32s(...values: number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

/** The hparams of an export folder's config.json. */
export function whisperHparams(modelDir: string, weights: GgmlWeightType): WhisperHparams {
  const c = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, number>;
  // whisper.cpp sizes its tensors from these hparams alone: it assumes 4 × d_model feed-forwards and equal widths.
  if (c.encoder_ffn_dim !== 4 * c.d_model || c.decoder_ffn_dim !== 4 * c.d_model) {
    throw new Error(`whisper.cpp needs feed-forward width 4 × d_model (${4 * c.d_model}); this model has ${c.encoder_ffn_dim} / ${c.decoder_ffn_dim}`);
  }
  return {
    n_vocab: c.vocab_size,
    n_audio_ctx: c.max_source_positions,
    n_audio_state: c.d_model,
    n_audio_head: c.encoder_attention_heads,
    n_audio_layer: c.encoder_layers,
    n_text_ctx: c.max_target_positions,
    n_text_state: c.d_model,
    n_text_head: c.decoder_attention_heads,
    n_text_layer: c.decoder_layers,
    n_mels: c.num_mel_bins,
    ftype: GGML_FTYPE[weights],
  };
}

/** vocab.json's tokens as bytes, in id order (ids must run 0…n-1, as the loader numbers them by position). */
function vocabBytes(modelDir: string): Uint8Array[] {
  const vocab = JSON.parse(readFileSync(join(modelDir, 'vocab.json'), 'utf8')) as Record<string, number>;
  const byChar = new Map(bytesToUnicode().map((ch, byte) => [ch, byte]));
  const entries = Object.entries(vocab).sort((a, b) => a[1] - b[1]);
  return entries.map(([token, id], index) => {
    if (id !== index) throw new Error(`vocab.json ids are not contiguous at ${index} (${id})`);
    return Uint8Array.from([...token].map((ch) => byChar.get(ch) ?? 0x3f));
  });
}

/**
 * Writes `out` (atomically: a temporary file renamed into place) and returns its tensor count. Tensors are
 * streamed, one at a time, so the file never sits in memory whole.
 */
export function writeWhisperGgml(modelDir: string, out: string, weights: GgmlWeightType): number {
  const temp = `${out}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  let count = 0;
  try {
    const write = (bytes: Uint8Array) => writeSync(fd, bytes);
    const hparams = whisperHparams(modelDir, weights);
    write(int32s(GGML_MAGIC, ...WHISPER_HPARAM_NAMES.map((k) => hparams[k])));
    const bank = melFilters(hparams.n_mels);
    write(int32s(bank.nMels, bank.nBins));
    write(new Uint8Array(bank.weights.buffer, bank.weights.byteOffset, bank.weights.byteLength));
    const tokens = vocabBytes(modelDir);
    write(int32s(tokens.length));
    for (const token of tokens) {
      write(int32s(token.length));
      write(token);
    }
    for (const t of whisperGgmlTensors(modelDir, weights)) {
      const name = new TextEncoder().encode(t.name);
      write(int32s(t.shape.length, name.length, GGML_TYPE[t.type], ...[...t.shape].reverse()));
      write(name);
      write(t.data);
      count++;
    }
    closeSync(fd);
    renameSync(temp, out);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  return count;
}

/** What `readWhisperGgml` finds: for tests and for checking a written file. */
export interface GgmlFile {
  magic: number;
  hparams: WhisperHparams;
  filters: { nMel: number; nFft: number; data: Float32Array };
  vocab: Uint8Array[];
  tensors: GgmlTensor[];
}

/** Parses a legacy whisper.cpp ggml file the way whisper_model_load reads it. */
export function readWhisperGgml(bytes: Uint8Array): GgmlFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const i32 = () => {
    const v = view.getInt32(at, true);
    at += 4;
    return v;
  };
  const take = (n: number) => {
    if (at + n > bytes.length) throw new Error(`ggml file truncated at ${at} (+${n})`);
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const magic = i32() >>> 0;
  const hparams = Object.fromEntries(WHISPER_HPARAM_NAMES.map((k) => [k, i32()])) as WhisperHparams;
  const nMel = i32();
  const nFft = i32();
  const filterBytes = take(4 * nMel * nFft);
  const data = new Float32Array(nMel * nFft);
  new Uint8Array(data.buffer).set(filterBytes);
  const vocab: Uint8Array[] = [];
  for (let n = i32(), i = 0; i < n; i++) vocab.push(take(i32()));
  const types = Object.fromEntries(Object.entries(GGML_TYPE).map(([k, v]) => [v, k as GgmlTensorType]));
  const tensors: GgmlTensor[] = [];
  while (at < bytes.length) {
    const nDims = i32();
    const nameLength = i32();
    const type = types[i32()];
    if (!type) throw new Error(`unknown ggml type at ${at}`);
    const ne = Array.from({ length: nDims }, i32);
    const name = new TextDecoder().decode(take(nameLength));
    const shape = [...ne].reverse();
    tensors.push({ name, shape, type, data: take(ggmlBytes(type, shape.reduce((a, b) => a * b, 1))) });
  }
  return { magic, hparams, filters: { nMel, nFft, data }, vocab, tensors };
}
