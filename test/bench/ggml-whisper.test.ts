/**
 * The benchmark's whisper.cpp peer reads a ggml file bench/ggml-whisper.ts writes from the ONNX export. These
 * tests check the file against whisper.cpp's loader contract (src/whisper.cpp whisper_model_load, convert-h5-to-ggml
 * and whisper-quantize), without whisper.cpp: magic, hparams, mel filters, vocabulary, every tensor whisper.cpp
 * creates (names, ggml extents, types, byte counts), transposed values, and q8_0 blocks within quantization error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { melFilters } from '../../src/audio/index.js';
import { decodeModel } from '../../src/runtime/onnx/index.js';
import {
  GGML_MAGIC,
  QK8_0,
  dequantizeQ8_0,
  fromHalf,
  quantizeQ8_0,
  readWhisperGgml,
  toHalf,
  writeWhisperGgml,
  type GgmlFile,
  type GgmlWeightType,
} from '../../bench/ggml-whisper.js';
import { ensureWhisperModel, TINY_WHISPER } from '../models/index.js';

const D = TINY_WHISPER.dModel;
const FFN = 4 * D;

/** Every tensor whisper.cpp's loader creates for these sizes, with its torch-order shape (ggml extents reversed). */
function expectedTensors(vocab: number, textCtx: number): Map<string, number[]> {
  const out = new Map<string, number[]>([
    ['encoder.positional_embedding', [1500, D]],
    ['encoder.conv1.weight', [D, 80, 3]],
    ['encoder.conv1.bias', [D, 1]],
    ['encoder.conv2.weight', [D, D, 3]],
    ['encoder.conv2.bias', [D, 1]],
    ['encoder.ln_post.weight', [D]],
    ['encoder.ln_post.bias', [D]],
    ['decoder.positional_embedding', [textCtx, D]],
    ['decoder.token_embedding.weight', [vocab, D]],
    ['decoder.ln.weight', [D]],
    ['decoder.ln.bias', [D]],
  ]);
  const block = (prefix: string, cross: boolean) => {
    out.set(`${prefix}.mlp_ln.weight`, [D]).set(`${prefix}.mlp_ln.bias`, [D]);
    out.set(`${prefix}.mlp.0.weight`, [FFN, D]).set(`${prefix}.mlp.0.bias`, [FFN]);
    out.set(`${prefix}.mlp.2.weight`, [D, FFN]).set(`${prefix}.mlp.2.bias`, [D]);
    for (const attn of cross ? ['attn', 'cross_attn'] : ['attn']) {
      out.set(`${prefix}.${attn}_ln.weight`, [D]).set(`${prefix}.${attn}_ln.bias`, [D]);
      out.set(`${prefix}.${attn}.query.weight`, [D, D]).set(`${prefix}.${attn}.query.bias`, [D]);
      out.set(`${prefix}.${attn}.key.weight`, [D, D]);
      out.set(`${prefix}.${attn}.value.weight`, [D, D]).set(`${prefix}.${attn}.value.bias`, [D]);
      out.set(`${prefix}.${attn}.out.weight`, [D, D]).set(`${prefix}.${attn}.out.bias`, [D]);
    }
  };
  for (let i = 0; i < TINY_WHISPER.encoderLayers; i++) block(`encoder.blocks.${i}`, false);
  for (let i = 0; i < TINY_WHISPER.decoderLayers; i++) block(`decoder.blocks.${i}`, true);
  return out;
}

function onnxValues(dir: string, file: string, name: string): { dims: number[]; values: Float32Array } {
  const model = decodeModel(readFileSync(join(dir, 'onnx', file)));
  const t = model.graph?.initializer?.find((i) => i.name === name);
  assert.ok(t?.rawData, `${file} has ${name}`);
  const values = new Float32Array(t.rawData.byteLength / 4);
  new Uint8Array(values.buffer).set(t.rawData);
  return { dims: (t.dims ?? []).map(Number), values };
}

function tensorValues(file: GgmlFile, name: string): Float32Array {
  const t = file.tensors.find((x) => x.name === name);
  assert.ok(t, `tensor ${name}`);
  if (t.type === 'q8_0') return dequantizeQ8_0(t.data);
  if (t.type === 'f32') return new Float32Array(new Uint8Array(t.data).buffer);
  const halves = new Uint16Array(new Uint8Array(t.data).buffer);
  return Float32Array.from(halves, fromHalf);
}

const writtenFiles = new Map<GgmlWeightType, Promise<{ dir: string; file: GgmlFile; count: number }>>();

/** The tiny model written as ggml once per weight type (each write decodes both ONNX files). */
function written(weights: GgmlWeightType): Promise<{ dir: string; file: GgmlFile; count: number }> {
  let result = writtenFiles.get(weights);
  if (!result) writtenFiles.set(weights, (result = write(weights)));
  return result;
}

async function write(weights: GgmlWeightType): Promise<{ dir: string; file: GgmlFile; count: number }> {
  const dir = await ensureWhisperModel(TINY_WHISPER);
  const out = mkdtempSync(join(tmpdir(), 'moxing-ggml-'));
  try {
    const path = join(out, `ggml-tiny-${weights}.bin`);
    const count = writeWhisperGgml(dir, path, weights);
    return { dir, file: readWhisperGgml(readFileSync(path)), count };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

test('toHalf rounds to nearest even and fromHalf inverts it on representable values', () => {
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-2), 0xc000);
  assert.equal(toHalf(65504), 0x7bff);
  assert.equal(toHalf(1e6), 0x7c00);
  assert.equal(toHalf(2 ** -24), 0x0001);
  // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties go to the even mantissa (1).
  assert.equal(toHalf(1 + 2 ** -11), 0x3c00);
  assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02);
  for (const bits of [0x0001, 0x03ff, 0x0400, 0x3555, 0x7bff, 0xbc01]) assert.equal(toHalf(fromHalf(bits)), bits);
});

test('q8_0 blocks: scale amax/127 as float16, values within half a step', () => {
  const values = Float32Array.from({ length: 4 * QK8_0 }, (_, i) => Math.sin(i * 1.7) * (1 + (i >> 5)));
  values.fill(0, 3 * QK8_0); // an all-zero block has scale 0 and zero quants
  const bytes = quantizeQ8_0(values);
  assert.equal(bytes.length, 4 * 34);
  const back = dequantizeQ8_0(bytes);
  const view = new DataView(bytes.buffer);
  for (let b = 0; b < 4; b++) {
    const block = values.subarray(b * QK8_0, (b + 1) * QK8_0);
    const amax = Math.max(...block.map(Math.abs));
    const d = fromHalf(view.getUint16(b * 34, true));
    assert.equal(d, fromHalf(toHalf(amax / 127)));
    for (let j = 0; j < QK8_0; j++) assert.ok(Math.abs(back[b * QK8_0 + j] - block[j]) <= d / 2 + amax * 2 ** -11, `block ${b} value ${j}`);
  }
  assert.throws(() => quantizeQ8_0(new Float32Array(31)), /multiple of 32/);
});

for (const weights of ['f16', 'q8_0'] as const) {
  test(`ggml ${weights}: whisper.cpp's header, filters, vocabulary and tensor table`, async () => {
    const { dir, file, count } = await written(weights);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
    assert.equal(file.magic, GGML_MAGIC);
    assert.deepEqual(file.hparams, {
      n_vocab: config.vocab_size,
      n_audio_ctx: 1500,
      n_audio_state: D,
      n_audio_head: TINY_WHISPER.heads,
      n_audio_layer: TINY_WHISPER.encoderLayers,
      n_text_ctx: 448,
      n_text_state: D,
      n_text_head: TINY_WHISPER.heads,
      n_text_layer: TINY_WHISPER.decoderLayers,
      n_mels: 80,
      ftype: weights === 'f16' ? 1 : 2007,
    });
    assert.deepEqual([file.filters.nMel, file.filters.nFft], [80, 201]);
    assert.deepEqual(file.filters.data, melFilters(80).weights);
    const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
    assert.equal(file.vocab.length, Object.keys(vocab).length);
    assert.equal(new TextDecoder().decode(file.vocab[vocab['Ġthe']]), ' the');

    const expected = expectedTensors(config.vocab_size, 448);
    assert.equal(count, expected.size);
    assert.equal(file.tensors.length, expected.size);
    assert.deepEqual(new Set(file.tensors.map((t) => t.name)), new Set(expected.keys()));
    for (const t of file.tensors) {
      assert.deepEqual(t.shape, expected.get(t.name), t.name);
      const keepF32 = t.shape.length === 1 || /conv\d\.bias|positional_embedding/.test(t.name);
      const want = keepF32 ? 'f32' : t.shape.length === 3 ? 'f16' : weights;
      assert.equal(t.type, want, t.name);
      const elements = t.shape.reduce((a, b) => a * b, 1);
      assert.equal(t.data.length, want === 'f32' ? 4 * elements : want === 'f16' ? 2 * elements : (elements / 32) * 34, t.name);
    }
  });
}

test('ggml values: linear weights transposed back to torch [out, in]; f16 and q8_0 within their rounding', async () => {
  const f16 = await written('f16');
  const q8 = await written('q8_0');
  const onnx = onnxValues(f16.dir, 'decoder_model_merged.onnx', 'model.decoder.layers.1.encoder_attn.q_proj.weight');
  assert.deepEqual(onnx.dims, [D, D]);
  const name = 'decoder.blocks.1.cross_attn.query.weight';
  const half = tensorValues(f16.file, name);
  const quant = tensorValues(q8.file, name);
  let amax = 0;
  for (const v of onnx.values) amax = Math.max(amax, Math.abs(v));
  for (let input = 0; input < D; input++) {
    for (let output = 0; output < D; output++) {
      const want = onnx.values[input * D + output];
      const at = output * D + input;
      assert.ok(Math.abs(half[at] - want) <= Math.abs(want) * 2 ** -11 + 2 ** -24, `f16 [${output}, ${input}]`);
      assert.ok(Math.abs(quant[at] - want) <= amax / 127, `q8_0 [${output}, ${input}]`);
    }
  }
  const positions = onnxValues(f16.dir, 'encoder_model.onnx', 'model.encoder.embed_positions.weight');
  assert.deepEqual(tensorValues(q8.file, 'encoder.positional_embedding'), positions.values);
  const conv = onnxValues(f16.dir, 'encoder_model.onnx', 'model.encoder.conv1.weight');
  assert.deepEqual(tensorValues(q8.file, 'encoder.conv1.weight'), tensorValues(f16.file, 'encoder.conv1.weight'));
  assert.ok(tensorValues(f16.file, 'encoder.conv1.weight').every((v, i) => Math.abs(v - conv.values[i]) <= Math.abs(conv.values[i]) * 2 ** -11 + 2 ** -24));
});
