import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { isMoxingError } from '../../src/errors.js';
import { quantizeModel, quantizeModelDir, resolveQuantizeOptions, type QuantizeOptions } from '../../src/quantize/index.js';
import { decodeModel, encodeModel, node, onnx, type ModelProto } from '../../src/runtime/onnx/index.js';
import { float32, releaseSessions } from '../../src/runtime/index.js';
import { maxAbs, maxAbsDiff, whisperOutputs } from './whisper-logits.js';

const FIXTURE = fileURLToPath(new URL('../../../shared/models/whisper-tiny-random/', import.meta.url));
const temps: string[] = [];
after(async () => {
  await releaseSessions();
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

const HEADS = 2;
const S = 40; // positions
const D = 16; // head size

function seeded(n: number, seed: number, amplitude = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * amplitude;
  });
}

function valueInfo(name: string, dims: number[]) {
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
}

/** Encoder self-attention as optimum exports it: Q·Kᵀ through a Transpose of K, Softmax, probs·V. */
function attentionModel(): ModelProto {
  const dims = [1, HEADS, S, D];
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'attention',
      node: [
        node('Transpose', ['k'], ['k_t'], 'transpose_k', { perm: [0, 1, 3, 2] }),
        node('MatMul', ['q', 'k_t'], ['scores'], 'qk'),
        node('Softmax', ['scores'], ['probs'], 'softmax', { axis: -1 }),
        node('MatMul', ['probs', 'v'], ['context'], 'pv'),
      ],
      input: [valueInfo('q', dims), valueInfo('k', dims), valueInfo('v', dims)],
      output: [valueInfo('scores', [1, HEADS, S, S]), valueInfo('context', dims)],
    },
  });
}

const Q = seeded(HEADS * S * D, 3, 2);
const K = seeded(HEADS * S * D, 7, 1.5);
const V = seeded(HEADS * S * D, 13);

async function run(model: ModelProto, k = K): Promise<{ scores: Float32Array; context: Float32Array }> {
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    const dims = [1, HEADS, S, D];
    const out = await session.run({ q: float32(Q, dims), k: float32(k, dims), v: float32(V, dims) });
    return { scores: out.scores.data as Float32Array, context: out.context.data as Float32Array };
  } finally {
    await session.release();
  }
}

function ops(model: ModelProto): string[] {
  return (model.graph?.node ?? []).map((n) => n.opType ?? '');
}

function quantized(options: Partial<QuantizeOptions> = { activationMatMuls: true }): { model: ModelProto; activationMatMuls: number } {
  const model = attentionModel();
  const stats = quantizeModel(model, { to: 'q8', ...options });
  // Through bytes and back, as a written file would be.
  return { model: decodeModel(encodeModel(model)), activationMatMuls: stats.activationMatMuls };
}

test('with activationMatMuls, Q·Kᵀ becomes DynamicQuantizeMatMul on int8 K, probs·V (a Softmax input) stays float', () => {
  const { model, activationMatMuls } = quantized();
  assert.equal(activationMatMuls, 1);
  const types = ops(model);
  assert.equal(types.filter((t) => t === 'DynamicQuantizeMatMul').length, 1);
  assert.equal(types.filter((t) => t === 'MatMul').length, 1);
  const pv = model.graph!.node!.find((n) => n.opType === 'MatMul')!;
  assert.deepEqual(pv.input, ['probs', 'v']);
  // K is quantized before its Transpose (int8 moved, not float) and the float Transpose is gone.
  const transposes = model.graph!.node!.filter((n) => n.opType === 'Transpose');
  assert.equal(transposes.length, 1);
  const quant = model.graph!.node!.find((n) => n.opType === 'QuantizeLinear')!;
  assert.equal(quant.input![0], 'k');
  assert.deepEqual(transposes[0].input, [quant.output![0]]);
  assert.ok((model.opsetImport ?? []).some((o) => o.domain === 'com.microsoft'));
  assert.deepEqual(model.graph!.output!.map((o) => o.name), ['scores', 'context']);
});

test('quantized Q·Kᵀ stays within the worst-case int8 rounding bound of float32', async () => {
  const ref = await run(attentionModel());
  const q = await run(quantized().model);
  // Q is uint8 per tensor (step sq over [min(0, lo), max(0, hi)], error <= sq with the rounded zero point),
  // K int8 per tensor (step sk = max|K| / 127, error <= sk / 2). Over D terms each score is off by at most
  // D * (max|Q| * sk / 2 + max|K| * sq + sq * sk / 2); float32 accumulation adds far less than the margin.
  let lo = 0;
  let hi = 0;
  for (const v of Q) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const sq = (hi - lo) / 255;
  const sk = maxAbs(K) / 127;
  const bound = D * (maxAbs(Q) * (sk / 2) + maxAbs(K) * sq + (sq * sk) / 2);
  const err = maxAbsDiff(ref.scores, q.scores);
  assert.ok(err <= bound * 1.01, `scores error ${err} over bound ${bound}`);
  assert.ok(err > 0, 'the scores were not quantized');
  // The typical error is far below the worst case (rounding errors cancel): a wrong scale would not be.
  let sum = 0;
  for (let i = 0; i < ref.scores.length; i++) sum += Math.abs(ref.scores[i] - q.scores[i]);
  assert.ok(sum / ref.scores.length < bound / 10, `mean error ${sum / ref.scores.length} vs bound ${bound}`);
  // Downstream: the context rows (after Softmax and the float probs·V) move by less than the scores do.
  assert.ok(maxAbsDiff(ref.context, q.context) < err, `context error ${maxAbsDiff(ref.context, q.context)}`);
});

test('an all-zero K gives zero scores, not NaN (the scale has a floor)', async () => {
  const zeros = new Float32Array(K.length);
  const q = await run(quantized().model, zeros);
  assert.ok(q.scores.every((v) => v === 0));
  assert.ok(q.context.every((v) => Number.isFinite(v)));
});

test('activationMatMuls false keeps both attention MatMuls float (weights only)', () => {
  const { model, activationMatMuls } = quantized({ activationMatMuls: false });
  assert.equal(activationMatMuls, 0);
  assert.deepEqual(ops(model), ops(attentionModel()));
});

test('activationMatMuls defaults off (weights only), and is refused with MatMulNBits', () => {
  assert.equal(resolveQuantizeOptions({ to: 'q8' }).activationMatMuls, false);
  assert.equal(quantized({}).activationMatMuls, 0);
  assert.equal(resolveQuantizeOptions({ to: 'q8', method: 'matmulnbits' }).activationMatMuls, false);
  assert.equal(resolveQuantizeOptions({ to: 'q4' }).activationMatMuls, false);
  for (const options of [{ to: 'q8', method: 'matmulnbits' }, { to: 'q4' }] as const) {
    assert.throws(
      () => resolveQuantizeOptions({ ...options, activationMatMuls: true }),
      (e) => isMoxingError(e, 'BAD_ARGUMENT') && /dynamic/.test(e.message) && /--activation-matmuls/.test(e.message),
    );
  }
});

test('Whisper fixture: the encoder gets one per layer, the merged decoder (KV cache) none; outputs stay close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-quantize-act-'));
  temps.push(dir);
  mkdirSync(join(dir, 'onnx'));
  for (const f of ['encoder_model.onnx', 'decoder_model_merged.onnx']) linkSync(join(FIXTURE, 'onnx', f), join(dir, 'onnx', f));
  const files = quantizeModelDir(dir, { to: 'q8', activationMatMuls: true });
  const encoder = files.find((f) => f.output.endsWith('encoder_model_quantized.onnx'))!;
  const decoder = files.find((f) => f.output.endsWith('decoder_model_merged_quantized.onnx'))!;
  const layers = (JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as { encoder_layers: number }).encoder_layers;
  assert.equal(encoder.activationMatMuls, layers);
  assert.equal(decoder.activationMatMuls, 0);

  const ref = await whisperOutputs(FIXTURE, '');
  const withAct = await whisperOutputs(dir, '_quantized');
  quantizeModelDir(dir, { to: 'q8', activationMatMuls: false, force: true });
  const weightsOnly = await whisperOutputs(dir, '_quantized');
  // Quantizing the scores too adds error of the same order as the weights' own: measured 0.102 vs 0.101 on
  // encoder states of magnitude 3.7 (logits 0.013 vs 0.014 of 0.62). Allow twice the weights-only error.
  const encErr = maxAbsDiff(ref.encoder, withAct.encoder);
  assert.ok(encErr < 2 * maxAbsDiff(ref.encoder, weightsOnly.encoder), `encoder error ${encErr}`);
  for (const key of ['prefill', 'step'] as const) {
    const err = maxAbsDiff(ref[key], withAct[key]);
    assert.ok(err < 2 * maxAbsDiff(ref[key], weightsOnly[key]) + 1e-3, `${key} error ${err}`);
  }
});
