import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantizeBlockwise, kMajor, nMajor, quantizeBlockwise, quantizePerColumnInt8, quantizePerRowInt8 } from '../../src/quantize/index.js';

function seeded(n: number, seed = 3): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

for (const bits of [4, 8] as const) {
  for (const symmetric of [false, true]) {
    test(`blockwise ${bits}-bit ${symmetric ? 'symmetric' : 'with zero points'}: error within half a step, K padded`, () => {
      const k = 70; // not a multiple of the block: the last block is padded
      const n = 5;
      const w = seeded(k * n);
      const q = quantizeBlockwise(kMajor(w, k, n), bits, 32, symmetric);
      assert.equal(q.blocksPerColumn, 3);
      assert.equal(q.packed.length, n * 3 * ((32 * bits) / 8));
      const back = dequantizeBlockwise(q, k, n, bits, 32);
      for (let i = 0; i < k * n; i++) {
        const col = i % n;
        const block = Math.floor(Math.floor(i / n) / 32);
        const step = q.scales[col * 3 + block];
        assert.ok(Math.abs(back[i] - w[i]) <= step / 2 + 1e-6, `element ${i}: ${back[i]} vs ${w[i]}, step ${step}`);
      }
    });
  }
}

test('a tied [N, K] weight quantizes exactly like its transpose given as [K, N]', () => {
  const k = 64;
  const n = 3;
  const nk = seeded(n * k, 9);
  const kn = new Float32Array(k * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) kn[c * n + r] = nk[r * k + c];
  assert.deepEqual(quantizeBlockwise(nMajor(nk, k, n), 4, 32, false), quantizeBlockwise(kMajor(kn, k, n), 4, 32, false));
  assert.deepEqual(quantizePerColumnInt8(nMajor(nk, k, n)), quantizePerColumnInt8(kMajor(kn, k, n)));
});

test('int8 per column and per row: error within half a step, zeros stay zero', () => {
  const k = 40;
  const n = 6;
  const w = seeded(k * n, 5);
  for (let r = 0; r < k; r++) w[r * n + 2] = 0; // an all-zero column
  const col = quantizePerColumnInt8(kMajor(w, k, n));
  for (let i = 0; i < k * n; i++) assert.ok(Math.abs(col.data[i] * col.scales[i % n] - w[i]) <= col.scales[i % n] / 2 + 1e-7);
  for (let r = 0; r < k; r++) assert.equal(col.data[r * n + 2], 0);
  const row = quantizePerRowInt8(w, k, n);
  for (let i = 0; i < k * n; i++) {
    const s = row.scales[Math.floor(i / n)];
    assert.ok(Math.abs(row.data[i] * s - w[i]) <= s / 2 + 1e-7);
  }
});
