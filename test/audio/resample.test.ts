import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { resample, Resampler } from '../../src/audio/index.js';

const tone = (hz: number, rate: number, n: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / rate));

function rms(x: Float32Array): number {
  let sum = 0;
  for (const v of x) sum += v * v;
  return Math.sqrt(sum / x.length);
}

// Edges are left out of the comparisons: the signal starts and stops abruptly there.
const EDGE = 1000;

test('a 1 kHz sine survives 44.1 kHz -> 16 kHz with error below 1e-5', () => {
  const out = resample(tone(1000, 44_100, 44_100), 44_100, 16_000);
  assert.equal(out.length, 16_000);
  const expected = tone(1000, 16_000, 16_000);
  let error = 0;
  for (let i = EDGE; i < out.length - EDGE; i++) error = Math.max(error, Math.abs(out[i] - expected[i]));
  assert.ok(error < 1e-5, `max error ${error}`);
});

test('tones above 8 kHz do not alias when going to 16 kHz (>= 80 dB down)', () => {
  for (const [rate, hz] of [[44_100, 9_000], [44_100, 12_000], [48_000, 10_000], [22_050, 9_500]]) {
    const out = resample(tone(hz, rate, rate), rate, 16_000);
    const level = 20 * Math.log10(rms(out.subarray(EDGE, out.length - EDGE)) / rms(tone(hz, rate, rate)));
    assert.ok(level < -80, `${hz} Hz at ${rate} Hz leaks at ${level.toFixed(1)} dB`);
  }
  // While a 6 kHz tone passes untouched (within 0.01 dB).
  const pass = resample(tone(6_000, 44_100, 44_100), 44_100, 16_000);
  const gain = 20 * Math.log10(rms(pass.subarray(EDGE, pass.length - EDGE)) / rms(tone(6_000, 16_000, 16_000)));
  assert.ok(Math.abs(gain) < 0.01, `6 kHz gain ${gain} dB`);
});

test('upsampling 8 kHz -> 16 kHz interpolates a sine', () => {
  const out = resample(tone(440, 8_000, 8_000), 8_000, 16_000);
  assert.equal(out.length, 16_000);
  const expected = tone(440, 16_000, 16_000);
  let error = 0;
  for (let i = EDGE; i < out.length - EDGE; i++) error = Math.max(error, Math.abs(out[i] - expected[i]));
  assert.ok(error < 1e-5, `max error ${error}`);
});

test('streaming in odd-sized blocks gives exactly the one-shot output, for exact and interpolated phase tables', () => {
  for (const rate of [44_100, 44_099]) {
    const input = Float32Array.from({ length: 30_000 }, (_, i) => Math.sin(i * 0.037) + 0.2 * Math.sin(i * 1.1));
    const whole = resample(input, rate, 16_000);
    assert.equal(whole.length, Math.ceil((input.length * 16_000) / rate));
    const resampler = new Resampler(rate, 16_000);
    const parts: number[] = [];
    let at = 0;
    for (const size of [1, 7, 0, 333, 4096, 10_000]) {
      parts.push(...resampler.process(input.subarray(at, at + size)));
      at += size;
    }
    parts.push(...resampler.process(input.subarray(at)), ...resampler.flush());
    assert.equal(parts.length, whole.length);
    assert.ok(parts.every((v, i) => v === whole[i]), `rate ${rate}`);
  }
});

/** Two sines and seeded noise (an LCG), so every phase and tap of the filter matters. */
function testSignal(n: number): Float32Array {
  let seed = 12345;
  return Float32Array.from({ length: n }, (_, i) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return 0.4 * Math.sin(i * 0.031) + 0.3 * Math.sin(i * 0.77) + 0.1 * (seed / 2 ** 32 - 0.5);
  });
}

const sha = (a: Float32Array): string => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex').slice(0, 16);

// [input rate, output length, sha256 prefix of the output bytes] of 20 000 samples of testSignal resampled to
// 16 kHz, captured from the implementation that gathered outputs in a number[] before they were preallocated.
const BEFORE_PREALLOCATION: ReadonlyArray<readonly [number, number, string]> = [
  [8000, 40000, 'bb5417c53f9810d2'],
  [11025, 29025, '5546b56401cf3056'],
  [22050, 14513, 'f13c87192ab62baf'],
  [24000, 13334, '6e85ffdc649cc2a1'],
  [32000, 10000, '04c969e3b55b3efb'],
  [44100, 7257, '66d14f1c18a91594'],
  [44099, 7257, '349eddb922ded3c9'],
  [48000, 6667, 'c215734dc073d3e6'],
  [96000, 3334, '8080228a9be238ea'],
  [1000, 320000, 'e19073c5a1303558'],
  [384000, 834, 'a2e754b544351e14'],
  [7999, 40006, 'fbff790d4ed3800b'],
];

test('preallocated output is bit for bit the output of the number[] implementation, whole and in blocks', () => {
  const input = testSignal(20_000);
  for (const [rate, length, hash] of BEFORE_PREALLOCATION) {
    const whole = resample(input, rate, 16_000);
    assert.equal(whole.length, length, `rate ${rate}`);
    assert.equal(sha(whole), hash, `rate ${rate}`);
    const resampler = new Resampler(rate, 16_000);
    const parts: Float32Array[] = [];
    for (let at = 0; at < input.length; at += 4999) parts.push(resampler.process(input.subarray(at, at + 4999)));
    parts.push(resampler.flush());
    const joined = new Float32Array(length);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    assert.equal(at, length);
    assert.equal(sha(joined), hash, `rate ${rate} in blocks`);
  }
});

test('extreme ratios on a long input return Float32Arrays of exactly the output length (nothing grown or oversized)', () => {
  // 1 kHz -> 16 kHz makes 16 outputs per input (the ratio that used to overflow a number[]); 384 kHz -> 16 kHz keeps 1 in 24.
  for (const [rate, n] of [[1000, 250_000], [384_000, 1_000_000]]) {
    const input = testSignal(n);
    const resampler = new Resampler(rate, 16_000);
    const outputs: Float32Array[] = [];
    // Counting Array.prototype.push calls inside the resampler: the number[] it used to grow made one per output.
    const push = Array.prototype.push;
    let pushes = 0;
    Array.prototype.push = function (this: unknown[], ...items: unknown[]): number {
      pushes++;
      return push.apply(this, items);
    };
    try {
      for (let at = 0; at < n; at += 65_536) {
        const out = resampler.process(input.subarray(at, at + 65_536));
        outputs[outputs.length] = out;
      }
      outputs[outputs.length] = resampler.flush();
    } finally {
      Array.prototype.push = push;
    }
    assert.equal(pushes, 0, `rate ${rate}: outputs gathered in a growing array`);
    let total = 0;
    for (const out of outputs) {
      assert.ok(out instanceof Float32Array);
      assert.equal(out.buffer.byteLength, out.length * 4, `rate ${rate}: a buffer of exactly the output`);
      total += out.length;
    }
    assert.equal(total, Math.ceil((n * 16_000) / rate), `rate ${rate}`);
  }
});
