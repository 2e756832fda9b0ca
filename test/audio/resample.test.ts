import { test } from 'node:test';
import assert from 'node:assert/strict';
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
