import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  decodeAudio,
  logMelSpectrogram,
  melFilters,
  melWindow,
  N_FRAMES,
  N_SAMPLES,
  padOrTrim,
} from '../../src/audio/index.js';
import { MEL_FILTERS, MEL_REFERENCE, maxAbsDiff, readF32 } from './fixtures.js';

interface ReferenceCase {
  wav: string;
  n_mels: 80 | 128;
  mel: string;
  shape: [number, number];
  samples: number;
}
const manifest = JSON.parse(readFileSync(`${MEL_REFERENCE}manifest.json`, 'utf8')) as { items: ReferenceCase[] };

test('mel filters equal openai/whisper mel_filters.npz (librosa slaney)', () => {
  for (const nMels of [80, 128] as const) {
    const reference = readF32(`${MEL_FILTERS}mel_${nMels}.f32`);
    const bank = melFilters(nMels);
    assert.equal(bank.weights.length, nMels * 201);
    assert.ok(maxAbsDiff(bank.weights, reference) <= 1e-8, `mel_${nMels} differs`);
    // The sparse row bounds cover every non-zero weight.
    for (let m = 0; m < nMels; m++) {
      for (let k = 0; k < 201; k++) {
        if (k < bank.start[m] || k >= bank.end[m]) assert.equal(bank.weights[m * 201 + k], 0);
      }
    }
  }
});

test('log-mel matches openai/whisper on every reference case (max abs error <= 1e-4)', async () => {
  assert.ok(manifest.items.length >= 12);
  const audio = new Map<string, Float32Array>();
  for (const item of manifest.items) {
    if (!audio.has(item.wav)) audio.set(item.wav, await decodeAudio(`${MEL_REFERENCE}${item.wav}`));
    const samples = audio.get(item.wav)!;
    assert.equal(samples.length, item.samples, `${item.wav} sample count`);
    const mel = logMelSpectrogram(padOrTrim(samples), item.n_mels);
    assert.deepEqual([mel.nMels, mel.nFrames], item.shape);
    const error = maxAbsDiff(mel.data, readF32(`${MEL_REFERENCE}${item.mel}`));
    assert.ok(error <= 1e-4, `${item.mel}: max abs error ${error}`);
  }
});

test('padOrTrim pads with zeros and trims to N_SAMPLES', () => {
  const short = Float32Array.from([1, 2, 3]);
  const padded = padOrTrim(short);
  assert.equal(padded.length, N_SAMPLES);
  assert.deepEqual(Array.from(padded.subarray(0, 4)), [1, 2, 3, 0]);
  const long = new Float32Array(N_SAMPLES + 5).fill(1);
  assert.equal(padOrTrim(long).length, N_SAMPLES);
  assert.equal(padOrTrim(padded), padded);
  assert.deepEqual(Array.from(padOrTrim(short, 2)), [1, 2]);
});

test('virtual padding equals explicit zero padding; melWindow slices and zero-pads like transcribe', () => {
  // 3.3 s of a decaying tone mixture: long enough to need two windows with 2 s windows below.
  const samples = Float32Array.from({ length: 52_800 }, (_, i) => Math.sin(i * 0.05) * Math.exp(-i / 30_000) + 0.3 * Math.sin(i * 0.9));
  const padding = 16_160;
  const virtual = logMelSpectrogram(samples, 80, { padding });
  const explicit = logMelSpectrogram(padOrTrim(samples, samples.length + padding), 80);
  assert.equal(virtual.nFrames, Math.floor((samples.length + padding) / 160));
  assert.equal(maxAbsDiff(virtual.data, explicit.data), 0);

  const window = melWindow(virtual, 200, 150);
  assert.equal(window.nFrames, N_FRAMES);
  for (const m of [0, 41, 79]) {
    const row = window.data.subarray(m * N_FRAMES, (m + 1) * N_FRAMES);
    assert.deepEqual(Array.from(row.subarray(0, 150)), Array.from(virtual.data.subarray(m * virtual.nFrames + 200, m * virtual.nFrames + 350)));
    assert.ok(row.subarray(150).every((v) => v === 0), 'frames past segment_size are zero (pad_or_trim of the mel)');
  }
  // Past the end of the mel, a window is all zeros.
  assert.ok(melWindow(virtual, virtual.nFrames + 10).data.every((v) => v === 0));
});

test('log-mel of short and empty inputs: frame count floor(n / 160), silence is -1.5', () => {
  assert.equal(logMelSpectrogram(new Float32Array(0), 80).nFrames, 0);
  const tiny = logMelSpectrogram(Float32Array.from([0.5, -0.25, 0.1]), 80, { padding: 400 });
  assert.equal(tiny.nFrames, 2);
  assert.ok(tiny.data.every(Number.isFinite));
  const silence = logMelSpectrogram(new Float32Array(N_SAMPLES), 128);
  assert.ok(silence.data.every((v) => v === -1.5));
});
