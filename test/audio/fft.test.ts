import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFft } from '../../src/audio/index.js';

/** The DFT by its definition, with exact angles (j·k mod n keeps them small). */
function naiveDft(re: Float64Array, im: Float64Array): [Float64Array, Float64Array] {
  const n = re.length;
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      const angle = (-2 * Math.PI * ((j * k) % n)) / n;
      outRe[k] += re[j] * Math.cos(angle) - im[j] * Math.sin(angle);
      outIm[k] += re[j] * Math.sin(angle) + im[j] * Math.cos(angle);
    }
  }
  return [outRe, outIm];
}

test('mixed-radix FFT equals the DFT for 400 (4·4·5·5) and other sizes', () => {
  for (const n of [1, 2, 3, 5, 7, 8, 12, 30, 49, 200, 400, 441]) {
    const re = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) + 0.01 * i);
    const im = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
    const [expectRe, expectIm] = naiveDft(re, im);
    createFft(n).transform(re, im);
    for (let k = 0; k < n; k++) {
      assert.ok(Math.abs(re[k] - expectRe[k]) < 1e-10 && Math.abs(im[k] - expectIm[k]) < 1e-10, `n=${n} bin ${k}`);
    }
  }
});

test('a 400-point FFT puts a 40·k Hz tone at 16 kHz exactly in bin k (no 512 zero-padding)', () => {
  const re = Float64Array.from({ length: 400 }, (_, i) => Math.cos((2 * Math.PI * 37 * i) / 400));
  const im = new Float64Array(400);
  createFft(400).transform(re, im);
  for (let k = 0; k <= 200; k++) assert.ok(Math.abs(Math.hypot(re[k], im[k]) - (k === 37 ? 200 : 0)) < 1e-9, `bin ${k}`);
});
