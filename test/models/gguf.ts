/**
 * A small GGUF v3 writer and a tiny llama GGUF made from the same seeded weights and tokenizer as the ONNX test
 * LLM (test/models/llm.ts): llama architecture metadata, a GPT-2-style BPE vocabulary with its merges and control
 * tokens, the ChatML chat template in `tokenizer.chat_template`, and F32 or Q4_0 tensors. The Q and K projections
 * are permuted as llama.cpp's converter permutes them (llama.cpp rotates adjacent pairs, transformers rotates
 * halves), so the F32 file computes what the ONNX graph computes.
 */
import { closeSync, mkdirSync, existsSync, openSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WeightBank } from './layers.js';
import { CHATML_TOOLS_TEMPLATE, LLM_SPECIALS, llmGraph, llmSpecHash, llmTokenizer, type LlmSpec } from './llm.js';
import { TEST_MODELS_DIR } from './whisper.js';

const enum ValueType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}

export type GgufValue = { type: 'u32' | 'i32' | 'f32'; value: number } | { type: 'bool'; value: boolean } | { type: 'string'; value: string } | { type: 'strings'; value: readonly string[] } | { type: 'i32s'; value: readonly number[] };

export type GgmlType = 'F32' | 'Q4_0';
const GGML_TYPE: Record<GgmlType, number> = { F32: 0, Q4_0: 2 };
const ALIGNMENT = 32;

export interface GgufTensor {
  name: string;
  /** ggml dims, innermost first (a torch [out, in] weight is [in, out]). */
  dims: readonly number[];
  type: GgmlType;
  /** Row-major float32 values, innermost dimension fastest; or made on demand, when the file is written. */
  data: Float32Array | (() => Float32Array);
}

class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  push(buffer: Buffer): void {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }
  private scalar(size: number, write: (b: Buffer) => void): void {
    const b = Buffer.alloc(size);
    write(b);
    this.push(b);
  }
  u32(v: number): void {
    this.scalar(4, (b) => b.writeUInt32LE(v));
  }
  i32(v: number): void {
    this.scalar(4, (b) => b.writeInt32LE(v));
  }
  u64(v: number): void {
    this.scalar(8, (b) => b.writeBigUInt64LE(BigInt(v)));
  }
  f32(v: number): void {
    this.scalar(4, (b) => b.writeFloatLE(v));
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  pad(): void {
    const extra = (ALIGNMENT - (this.length % ALIGNMENT)) % ALIGNMENT;
    if (extra > 0) this.push(Buffer.alloc(extra));
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function halfBits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign | (exp < -10 ? 0 : ((mant | 0x800000) >> (1 - exp + 13)));
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | (mant >> 13);
}

/** ggml's quantize_row_q4_0_ref: per 32 values an fp16 scale and 4-bit codes. */
export function quantizeQ4_0(data: Float32Array): Buffer {
  if (data.length % 32 !== 0) throw new Error('Q4_0 needs a multiple of 32 values');
  const out = Buffer.alloc((data.length / 32) * 18);
  for (let block = 0; block < data.length / 32; block++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = data[block * 32 + j];
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    out.writeUInt16LE(halfBits(d), block * 18);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(data[block * 32 + j] * id + 8.5));
      const q1 = Math.min(15, Math.trunc(data[block * 32 + 16 + j] * id + 8.5));
      out[block * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** Writes a GGUF v3 file. */
export function writeGguf(path: string, metadata: Record<string, GgufValue>, tensors: readonly GgufTensor[]): void {
  const w = new Writer();
  w.push(Buffer.from('GGUF', 'latin1'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(Object.keys(metadata).length);
  for (const [key, v] of Object.entries(metadata)) {
    w.string(key);
    switch (v.type) {
      case 'u32':
        w.u32(ValueType.UINT32);
        w.u32(v.value);
        break;
      case 'i32':
        w.u32(ValueType.INT32);
        w.i32(v.value);
        break;
      case 'f32':
        w.u32(ValueType.FLOAT32);
        w.f32(v.value);
        break;
      case 'bool':
        w.u32(ValueType.BOOL);
        w.push(Buffer.from([v.value ? 1 : 0]));
        break;
      case 'string':
        w.u32(ValueType.STRING);
        w.string(v.value);
        break;
      case 'strings':
        w.u32(ValueType.ARRAY);
        w.u32(ValueType.STRING);
        w.u64(v.value.length);
        for (const s of v.value) w.string(s);
        break;
      case 'i32s':
        w.u32(ValueType.ARRAY);
        w.u32(ValueType.INT32);
        w.u64(v.value.length);
        for (const n of v.value) w.i32(n);
        break;
    }
  }
  let offset = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE[t.type]);
    w.u64(offset);
    offset += Math.ceil(tensorBytes(t) / ALIGNMENT) * ALIGNMENT;
  }
  w.pad();
  // Tensor data streams to the file one tensor at a time: a 0.5 B model never sits in memory twice.
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, w.bytes());
    for (const t of tensors) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      const blob = t.type === 'F32' ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : quantizeQ4_0(data);
      if (blob.length !== tensorBytes(t)) throw new Error(`gguf tensor ${t.name}: ${data.length} values for dims ${t.dims.join('x')}`);
      writeSync(fd, blob);
      const extra = (ALIGNMENT - (blob.length % ALIGNMENT)) % ALIGNMENT;
      if (extra > 0) writeSync(fd, Buffer.alloc(extra));
    }
  } finally {
    closeSync(fd);
  }
}

function tensorBytes(t: GgufTensor): number {
  const values = t.dims.reduce((a, b) => a * b, 1);
  return t.type === 'F32' ? values * 4 : (values / 32) * 18;
}

/** [rows, cols] row-major → [cols, rows]. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** convert_hf_to_gguf's permute of a torch [heads·headDim, in] Q/K weight (halves → interleaved pairs). */
function permuteRows(data: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (const part of [0, 1]) {
        const src = h * headDim + part * half + i;
        const dst = h * headDim + i * 2 + part;
        out.set(data.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** The tiny llama of `spec` as GGUF (the ONNX model's weights and tokenizer), F32 or with Q4_0 matrices. */
export function writeLlmGguf(spec: LlmSpec, path: string, type: GgmlType = 'F32', name = spec.name): void {
  // The ONNX folder's tokenizer (test/models/llm.ts writes the same one into tokenizer.json).
  const tokenizer = llmTokenizer(spec);
  const vocab = tokenizer.vocab;
  const base = Object.keys(vocab).length;
  const tokens: string[] = new Array(base + LLM_SPECIALS.length);
  for (const [piece, id] of Object.entries(vocab)) tokens[id] = piece;
  LLM_SPECIALS.forEach((s, i) => (tokens[base + i] = s.content));
  const types = tokens.map((_, id) => (id < base ? 1 : LLM_SPECIALS[id - base].special ? 3 : 4));
  const vocabSize = tokens.length;
  const bank = new WeightBank(spec.seed);
  llmGraph(spec, vocabSize, bank); // draws every weight into the bank
  const { hidden: d, heads, kvHeads, intermediate: ff } = spec;
  const headDim = d / heads;
  // Transposed when written: one matrix's copy at a time.
  const matrix = (weight: string, inDim: number, outDim: number, permuteHeads?: number): GgufTensor => {
    const data = () => {
      const torch = transpose(bank.values(weight), inDim, outDim); // [out, in]
      return permuteHeads === undefined ? torch : permuteRows(torch, permuteHeads, headDim, inDim);
    };
    return { name: '', dims: [inDim, outDim], type, data };
  };
  const vector = (weight: string, dim: number): GgufTensor => ({ name: '', dims: [dim], type: 'F32', data: bank.values(weight) });
  const tensors: GgufTensor[] = [{ name: 'token_embd.weight', dims: [d, vocabSize], type, data: bank.values('model.embed_tokens.weight') }];
  for (let i = 0; i < spec.layers; i++) {
    const p = `model.layers.${i}`;
    const named = (n: string, t: GgufTensor) => tensors.push({ ...t, name: `blk.${i}.${n}` });
    named('attn_norm.weight', vector(`${p}.input_layernorm.weight`, d));
    named('attn_q.weight', matrix(`${p}.self_attn.q_proj.weight`, d, heads * headDim, heads));
    named('attn_k.weight', matrix(`${p}.self_attn.k_proj.weight`, d, kvHeads * headDim, kvHeads));
    named('attn_v.weight', matrix(`${p}.self_attn.v_proj.weight`, d, kvHeads * headDim));
    named('attn_output.weight', matrix(`${p}.self_attn.o_proj.weight`, heads * headDim, d));
    named('ffn_norm.weight', vector(`${p}.post_attention_layernorm.weight`, d));
    named('ffn_gate.weight', matrix(`${p}.mlp.gate_proj.weight`, d, ff));
    named('ffn_up.weight', matrix(`${p}.mlp.up_proj.weight`, d, ff));
    named('ffn_down.weight', matrix(`${p}.mlp.down_proj.weight`, ff, d));
  }
  tensors.push({ ...vector('model.norm.weight', d), name: 'output_norm.weight' });
  if (!spec.tied) tensors.push({ ...matrix('lm_head.weight', d, vocabSize), name: 'output.weight' });
  const id = (content: string) => base + LLM_SPECIALS.findIndex((s) => s.content === content);
  writeGguf(
    path,
    {
      'general.architecture': { type: 'string', value: 'llama' },
      'general.name': { type: 'string', value: name },
      'general.alignment': { type: 'u32', value: ALIGNMENT },
      'general.file_type': { type: 'u32', value: type === 'F32' ? 0 : 2 },
      'llama.context_length': { type: 'u32', value: spec.maxPositions ?? 2048 },
      'llama.embedding_length': { type: 'u32', value: d },
      'llama.block_count': { type: 'u32', value: spec.layers },
      'llama.feed_forward_length': { type: 'u32', value: ff },
      'llama.attention.head_count': { type: 'u32', value: heads },
      'llama.attention.head_count_kv': { type: 'u32', value: kvHeads },
      'llama.rope.dimension_count': { type: 'u32', value: headDim },
      'llama.rope.freq_base': { type: 'f32', value: spec.ropeTheta ?? 10000 },
      'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
      'llama.vocab_size': { type: 'u32', value: vocabSize },
      'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
      'tokenizer.ggml.pre': { type: 'string', value: 'gpt-2' },
      'tokenizer.ggml.tokens': { type: 'strings', value: tokens },
      'tokenizer.ggml.token_type': { type: 'i32s', value: types },
      'tokenizer.ggml.merges': { type: 'strings', value: tokenizer.merges },
      'tokenizer.ggml.bos_token_id': { type: 'u32', value: id('<|im_start|>') },
      'tokenizer.ggml.eos_token_id': { type: 'u32', value: id('<|im_end|>') },
      'tokenizer.ggml.padding_token_id': { type: 'u32', value: id('<|endoftext|>') },
      'tokenizer.ggml.add_bos_token': { type: 'bool', value: false },
      'tokenizer.chat_template': { type: 'string', value: CHATML_TOOLS_TEMPLATE },
    },
    tensors,
  );
}

/** The GGUF of `spec` (cached by spec and type), written aside and renamed into place. */
export function ensureLlmGguf(spec: LlmSpec, type: GgmlType = 'F32', root: string = TEST_MODELS_DIR): string {
  const dir = join(root, `${spec.name}-gguf-${llmSpecHash(spec)}`);
  const path = join(dir, `${spec.name}-${type}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  writeLlmGguf(spec, temp, type);
  renameSync(temp, path);
  return path;
}
