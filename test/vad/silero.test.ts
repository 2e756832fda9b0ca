import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeAudio } from '../../src/audio/index.js';
import { detectSpeech, SileroVad, sileroModelPath, VAD_FRAME_SAMPLES } from '../../src/audio/vad/index.js';
import { loadSession } from '../../src/runtime/index.js';
import { concat, espeak, overlapSeconds, silence, tones, totalSeconds, whiteNoise } from './signals.js';

const SHARED_AUDIO = new URL('../../../shared/audio/dev/', import.meta.url);
const vadPromise = SileroVad.load();

test('the bundled model is Silero v5: input [batch, samples], state [2, batch, 128], sr int64', async () => {
  const session = await loadSession(sileroModelPath(), { intraOpThreads: 1 });
  const meta = Object.fromEntries((session.inputMetadata ?? []).map((m) => [m.name, m]));
  assert.deepEqual(Object.keys(meta).sort(), ['input', 'sr', 'state']);
  assert.deepEqual(session.outputNames, ['output', 'stateN']);
  assert.equal(meta.sr.isTensor && meta.sr.type, 'int64');
  assert.deepEqual(meta.state.isTensor && [meta.state.shape[0], meta.state.shape[2]], [2, 128]);
});

for (const [name, make] of [
  ['digital silence', () => silence(6)],
  ['quiet white noise', () => whiteNoise(6, 0.01)],
  ['loud white noise', () => whiteNoise(6, 0.5, 7)],
  ['music-like tones', () => tones(8)],
  ['loud tones', () => tones(8, 0.9)],
] as const) {
  test(`no speech regions in ${name}`, async () => {
    const vad = await vadPromise;
    assert.deepEqual(await detectSpeech(make(), { vad }), []);
  });
}

test('espeak-ng speech padded with known silence: one region covering it, within the 400 ms pad', async () => {
  const vad = await vadPromise;
  const speech = await espeak('The quick brown fox jumps over the lazy dog, and then it runs into the forest.');
  const before = 3;
  const audio = concat(silence(before), speech, silence(3));
  const regions = await detectSpeech(audio, { vad });
  assert.equal(regions.length, 1, JSON.stringify(regions));
  const speechEndS = before + speech.length / 16000;
  const [r] = regions;
  // espeak's own leading/trailing silence is short; the region starts about one pad before the speech.
  assert.ok(r.startS >= before - 0.45 && r.startS <= before + 0.2, `start ${r.startS}`);
  assert.ok(r.endS >= speechEndS - 0.3 && r.endS <= speechEndS + 0.45, `end ${r.endS} vs speech end ${speechEndS}`);
});

test('streaming: feeding samples in uneven pieces gives exactly the one-call probabilities', async () => {
  const vad = await vadPromise;
  const audio = concat(silence(0.5), await espeak('Hello there, this is a streaming test.'), silence(0.3));
  const whole = await vad.probabilities(audio);
  assert.equal(whole.length, Math.floor(audio.length / VAD_FRAME_SAMPLES) + 1);
  const stream = vad.stream();
  const pieces: Float32Array[] = [];
  for (let at = 0, i = 0; at < audio.length; i++) {
    const size = [1, 511, 512, 513, 3000, 7][i % 6];
    pieces.push(await stream.push(audio.subarray(at, at + size)));
    at += size;
  }
  pieces.push(await stream.flush());
  assert.deepEqual(concat(...pieces), whole);
  // State matters: a fresh stream on the second half differs from the continued one.
  const half = Math.floor(whole.length / 2) * VAD_FRAME_SAMPLES;
  const fresh = await vad.probabilities(audio.subarray(half));
  assert.notDeepEqual(fresh.subarray(0, 10), whole.subarray(half / VAD_FRAME_SAMPLES, half / VAD_FRAME_SAMPLES + 10));
});

test('a long dev clip: regions cover the true speech segments', async () => {
  const vad = await vadPromise;
  const manifest = JSON.parse(readFileSync(new URL('manifest.json', SHARED_AUDIO), 'utf8')) as {
    clips: { path: string; kind: string; segments: { start: number; end: number }[] }[];
  };
  const clip = manifest.clips.find((c) => c.path === 'long/en_long_00.wav');
  assert.ok(clip);
  const audio = await decodeAudio(new URL(clip.path, SHARED_AUDIO).pathname);
  const regions = await detectSpeech(audio, { vad });
  const truth = clip.segments.map((s) => [s.start, s.end] as const);
  const found = regions.map((r) => [r.startS, r.endS] as const);
  const recall = overlapSeconds(truth, found) / totalSeconds(truth);
  const precision = overlapSeconds(truth, found) / totalSeconds(found);
  assert.ok(recall > 0.99, `recall ${recall}`);
  // The 2 s minimum silence and 400 ms pads keep pauses inside regions, so precision is lower by design.
  assert.ok(precision > 0.7, `precision ${precision}`);
  for (const r of regions) assert.ok(r.endS - r.startS <= 30, `region of ${r.endS - r.startS} s`);
  for (let i = 1; i < regions.length; i++) assert.ok(regions[i].start >= regions[i - 1].end);
});
