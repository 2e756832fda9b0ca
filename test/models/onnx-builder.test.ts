import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, Rng, attr, decodeModel, encodeModel, modelProto, normalQuantile, saveModel, tensor } from './onnx-builder.js';
import { Layers, WeightBank, causalMask, dimOf } from './layers.js';
import { TINY_LLM, llmGraph } from './llm.js';

async function run(model: ReturnType<typeof modelProto>, feeds: Record<string, ort.Tensor>) {
  const session = await ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 1 });
  return { session, outputs: await session.run(feeds) };
}

// Reference maths in plain JS, written from the definitions, not from the graph.
function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** rows [n, inDim] @ w [inDim, outDim] + b */
function linear(x: Float32Array, n: number, w: Float32Array, b: Float32Array | null, inDim: number, outDim: number): Float32Array {
  const y = new Float32Array(n * outDim);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[i * outDim + o];
      y[r * outDim + o] = s;
    }
  }
  return y;
}

function layerNorm(x: Float32Array, n: number, dim: number, g: Float32Array, b: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < n; r++) {
    const row = x.subarray(r * dim, (r + 1) * dim);
    const mean = row.reduce((a, v) => a + v, 0) / dim;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / dim;
    for (let i = 0; i < dim; i++) y[r * dim + i] = ((row[i] - mean) / Math.sqrt(variance + 1e-5)) * g[i] + b[i];
  }
  return y;
}

describe('Rng', () => {
  test('is deterministic, and forks depend only on the seed and the salt', () => {
    assert.deepEqual(new Rng(3).normal(10, 1), new Rng(3).normal(10, 1));
    assert.notDeepEqual(new Rng(3).normal(10, 1), new Rng(4).normal(10, 1));
    const a = new Rng(3);
    const b = new Rng(3);
    b.normal(5, 1);
    assert.notDeepEqual(a.fork('w').normal(4, 1), b.fork('w').normal(4, 1), 'a fork follows the parent state');
    assert.deepEqual(new Rng(3).fork('w').normal(4, 1), new Rng(3).fork('w').normal(4, 1));
  });

  test('normal draws have the requested mean and standard deviation', () => {
    const x = new Rng(11).normal(200_000, 2, 5);
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const std = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length);
    assert.ok(Math.abs(mean - 5) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(std - 2) < 0.02, `std ${std}`);
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-8);
    assert.ok(Math.abs(normalQuantile(1e-4) + 3.719016485) < 1e-7);
  });
});

describe('GraphBuilder', () => {
  test('writes every attribute kind, symbolic and fixed dims, and reads them back', () => {
    const g = new GraphBuilder('attrs');
    const x = g.input('x', 'float32', ['batch_size', 3]);
    const sub = new GraphBuilder('body');
    sub.output(sub.op('Identity', [x]), 'float32', ['batch_size', 3], 'y');
    g.node('Custom', [x], {
      i: attr.int(-1),
      f: attr.float(0.5),
      is: attr.ints([1, 2]),
      fs: attr.floats([0.25]),
      s: attr.string('hello'),
      t: attr.tensor(tensor('', 'int64', [2], [7, 8])),
      g: attr.graph(sub.build()),
    }, ['out'], 'test.domain');
    g.output('out', 'float32', ['batch_size', 3]);
    const decoded = decodeModel(encodeModel(modelProto(g.build())));
    const node = decoded.graph!.node![0];
    const byName = Object.fromEntries(node.attribute!.map((a) => [a.name, a]));
    assert.equal(Number(byName.i.i), -1);
    assert.equal(byName.f.f, 0.5);
    assert.deepEqual(byName.is.ints!.map(Number), [1, 2]);
    assert.deepEqual(byName.fs.floats, [0.25]);
    assert.equal(new TextDecoder().decode(byName.s.s!), 'hello');
    assert.deepEqual(Array.from(new BigInt64Array(Uint8Array.from(byName.t.t!.rawData!).buffer)), [7n, 8n]);
    assert.equal(byName.g.g!.name, 'body');
    assert.equal(node.domain, 'test.domain');
    const dims = decoded.graph!.input![0].type!.tensorType!.shape!.dim!;
    assert.equal(dims[0].dimParam, 'batch_size');
    assert.equal(Number(dims[1].dimValue), 3);
  });

  test('an If node reads outer-scope inputs and initializers from its branches, and ORT runs it', async () => {
    const top = new GraphBuilder('top');
    const x = top.input('x', 'float32', ['n']);
    top.input('flag', 'bool', [1]);
    const w = top.initializer('w', 'float32', [1], [3]);
    const branch = (name: string, op: string) => {
      const b = new GraphBuilder(name, { initializerScope: top });
      b.output(b.op(op, [x, w]), 'float32', ['n'], 'y');
      return b.build();
    };
    top.node('If', ['flag'], { then_branch: attr.graph(branch('then', 'Mul')), else_branch: attr.graph(branch('else', 'Add')) }, ['y']);
    top.output('y', 'float32', ['n']);
    const model = modelProto(top.build());
    const x0 = new ort.Tensor('float32', [1, 2], [2]);
    assert.deepEqual(Array.from((await run(model, { x: x0, flag: new ort.Tensor('bool', [true], [1]) })).outputs.y.data as Float32Array), [3, 6]);
    assert.deepEqual(Array.from((await run(model, { x: x0, flag: new ort.Tensor('bool', [false], [1]) })).outputs.y.data as Float32Array), [4, 5]);
  });

  test('saveModel writes a file ORT loads with the declared symbolic shapes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moxing-builder-'));
    try {
      const g = new GraphBuilder('relu');
      g.output(g.op('Relu', [g.input('x', 'float32', ['batch_size', 4])]), 'float32', ['batch_size', 4], 'y');
      saveModel(modelProto(g.build()), join(dir, 'sub', 'relu.onnx'));
      const session = await ort.InferenceSession.create(join(dir, 'sub', 'relu.onnx'));
      assert.deepEqual((session.inputMetadata[0] as unknown as { shape: unknown[] }).shape, ['batch_size', 4]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('saveModel streams exactly the bytes encodeModel makes (initializers, graph outputs, opsets)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-builder-'));
  try {
    for (const model of [modelProto(llmGraph(TINY_LLM, 300, new WeightBank(3)), { opset: 17 }), modelProto(new GraphBuilder('empty').build())]) {
      saveModel(model, join(dir, 'model.onnx'));
      assert.deepEqual(readFileSync(join(dir, 'model.onnx')), Buffer.from(encodeModel(model)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('Layers', () => {
  test('a pre-LN causal attention block with a KV cache matches a plain-JS reference', async () => {
    const [dim, heads, past, len] = [8, 2, 2, 3];
    const headDim = dim / heads;
    const bank = new WeightBank(42);
    const g = new GraphBuilder('block');
    const L = new Layers(g, bank);
    const x = g.input('x', 'float32', [1, 'seq', dim]);
    const pk = g.input('past_key', 'float32', [1, heads, 'past', headDim]);
    const pv = g.input('past_value', 'float32', [1, heads, 'past', headDim]);
    const normed = L.layerNorm(x, 'ln', dim);
    const mask = causalMask(g, dimOf(g, pk, 2), dimOf(g, x, 1));
    const att = L.attention({ name: 'att', query: normed, dim, heads, keyBias: false, pastKey: pk, pastValue: pv, mask, keyOutput: 'present_key' });
    const h = g.op('Add', [x, att.output]);
    g.output(g.op('Add', [h, L.mlp(h, 'mlp', dim, 16)]), 'float32', [1, 'seq', dim], 'y');
    g.output('present_key', 'float32', [1, heads, 'total', headDim]);

    const rng = new Rng(9);
    const xs = rng.normal(len * dim, 1);
    const pastK = rng.normal(heads * past * headDim, 1);
    const pastV = rng.normal(heads * past * headDim, 1);
    const { outputs } = await run(modelProto(g.build()), {
      x: new ort.Tensor('float32', xs, [1, len, dim]),
      past_key: new ort.Tensor('float32', pastK, [1, heads, past, headDim]),
      past_value: new ort.Tensor('float32', pastV, [1, heads, past, headDim]),
    });

    const w = (name: string) => bank.values(name);
    const n = layerNorm(xs, len, dim, w('ln.weight'), w('ln.bias'));
    const q = linear(n, len, w('att.q_proj.weight'), w('att.q_proj.bias'), dim, dim);
    const k = linear(n, len, w('att.k_proj.weight'), null, dim, dim);
    const v = linear(n, len, w('att.v_proj.weight'), w('att.v_proj.bias'), dim, dim);
    const total = past + len;
    // keys/values per head, past first: [heads][total][headDim]
    const kv = (pastT: Float32Array, fresh: Float32Array) => (hd: number, t: number, i: number) =>
      t < past ? pastT[(hd * past + t) * headDim + i] : fresh[(t - past) * dim + hd * headDim + i];
    const key = kv(pastK, k);
    const value = kv(pastV, v);
    const context = new Float32Array(len * dim);
    for (let hd = 0; hd < heads; hd++) {
      for (let t = 0; t < len; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= past + t; s++) {
          let dot = 0;
          for (let i = 0; i < headDim; i++) dot += q[t * dim + hd * headDim + i] * headDim ** -0.5 * key(hd, s, i);
          scores.push(dot);
        }
        const max = Math.max(...scores);
        const e = scores.map((sc) => Math.exp(sc - max));
        const z = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < headDim; i++) context[t * dim + hd * headDim + i] = e.reduce((a, p, s) => a + (p / z) * value(hd, s, i), 0);
      }
    }
    const attended = linear(context, len, w('att.out_proj.weight'), w('att.out_proj.bias'), dim, dim);
    const h1 = xs.map((val, i) => val + attended[i]);
    const hidden = linear(h1, len, w('mlp.fc1.weight'), w('mlp.fc1.bias'), dim, 16).map(gelu);
    const expected = h1.map((val, i) => val + linear(hidden, len, w('mlp.fc2.weight'), w('mlp.fc2.bias'), 16, dim)[i]);

    const y = outputs.y.data as Float32Array;
    for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i] - expected[i]) < 1e-4, `y[${i}] ${y[i]} != ${expected[i]}`);
    assert.deepEqual(outputs.present_key.dims, [1, heads, total, headDim]);
    assert.equal((outputs.present_key.data as Float32Array)[0], pastK[0]);
  });
});
