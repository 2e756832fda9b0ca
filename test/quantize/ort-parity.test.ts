import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { dequantizeBlockwise, kMajor, quantizeBlockwise, quantizeModel } from '../../src/quantize/index.js';
import { encodeModel, node, onnx, tensorProto } from '../../src/runtime/onnx/index.js';
import { float32 } from '../../src/runtime/index.js';

const K = 96; // three blocks of 32
const N = 40;

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

const W = seeded(K * N, 5);
const A = seeded(2 * K, 11);

function valueInfo(name: string, dims: number[]) {
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
}

/** y = a · w as a one-node model, quantized with `options`, run by ORT. */
async function runQuantized(options: Parameters<typeof quantizeModel>[1]): Promise<Float32Array> {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'matmul',
      node: [node('MatMul', ['a', 'w'], ['y'], 'matmul')],
      initializer: [tensorProto('w', [K, N], W)],
      input: [valueInfo('a', [2, K])],
      output: [valueInfo('y', [2, N])],
    },
  });
  quantizeModel(model, options);
  const session = await ort.InferenceSession.create(encodeModel(model));
  try {
    return (await session.run({ a: float32(A, [2, K]) })).y.data as Float32Array;
  } finally {
    await session.release();
  }
}

function matmul(a: Float32Array, w: Float32Array): Float32Array {
  const y = new Float32Array(2 * N);
  for (let r = 0; r < 2; r++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) y[r * N + n] += a[r * K + k] * w[k * N + n];
  return y;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

for (const [to, bits, symmetric] of [['q4', 4, false], ['q4', 4, true], ['q8', 8, false], ['q8', 8, true]] as const) {
  test(`ORT's MatMulNBits (${bits}-bit, ${symmetric ? 'symmetric' : 'zero points'}) reads our packing exactly`, async () => {
    const y = await runQuantized({ to, method: 'matmulnbits', symmetric, accuracyLevel: 0 });
    const reference = matmul(A, dequantizeBlockwise(quantizeBlockwise(kMajor(W, K, N), bits, 32, symmetric), K, N, bits, 32));
    // Equal to float32 rounding of the same dequantized weights: packing, scales and zero points agree with ORT.
    assert.ok(maxDiff(y, reference) < 1e-4, `max diff ${maxDiff(y, reference)}`);
  });
}

test('dynamic int8 (DynamicQuantizeLinear + MatMulInteger) stays within int8 rounding of float32', async () => {
  const y = await runQuantized({ to: 'q8', method: 'dynamic' });
  const exact = matmul(A, W);
  // |a| <= 1 and |w| <= 1 over K = 96 terms: activation step 2/255 and weight step 1/127 give at most
  // 96 * (1/255 + 1/254) ≈ 0.75 in the worst case, but the rounding errors mostly cancel and the typical
  // error is far below; 0.1 leaves room for that while still catching a wrong scale or zero point.
  assert.ok(maxDiff(y, exact) < 0.1, `max diff ${maxDiff(y, exact)}`);
});
