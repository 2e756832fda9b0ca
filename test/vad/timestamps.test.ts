import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectChunks, DEFAULT_VAD, resolveVadOptions, speechRegions, SpeechTimeMap } from '../../src/audio/vad/index.js';
import { restoreSegment, restoreSpeechTimestamps } from '../../src/asr/restore.js';
import { isMoxingError } from '../../src/errors.js';

const FRAME = 512;
const SR = 16000;

/** Probabilities per frame from [fromFrame, toFrame, p] runs over `frames` frames (others 0). */
function script(frames: number, runs: ReadonlyArray<readonly [number, number, number]>): Float32Array {
  const probs = new Float32Array(frames);
  for (const [from, to, p] of runs) probs.fill(p, from, to);
  return probs;
}

test('defaults are faster-whisper/silero values and frozen', () => {
  assert.deepEqual({ ...DEFAULT_VAD }, { threshold: 0.5, minSpeechMs: 250, maxSpeechS: 30, minSilenceMs: 2000, speechPadMs: 400 });
  assert.ok(Object.isFrozen(DEFAULT_VAD));
  assert.equal(resolveVadOptions().negThreshold, 0.35);
  assert.equal(resolveVadOptions({ threshold: 0.1 }).negThreshold, 0.01);
  assert.throws(() => resolveVadOptions({ threshold: 2 }), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /threshold/.test(e.message));
});

test('one speech run is padded by 400 ms on each side', () => {
  // Frames 100..200 speech in 400 frames (12.8 s): start 51200, end at the first silent frame 102400.
  const regions = speechRegions(script(400, [[100, 200, 0.9]]), 400 * FRAME);
  assert.deepEqual(regions, [{ start: 100 * FRAME - 6400, end: 200 * FRAME + 6400 }]);
});

test('a pause shorter than minSilenceMs does not split; a longer one does', () => {
  const shortPause = script(600, [[100, 200, 0.9], [250, 300, 0.9]]); // 50 frames = 1.6 s of pause
  assert.equal(speechRegions(shortPause, 600 * FRAME).length, 1);
  assert.equal(speechRegions(shortPause, 600 * FRAME, { minSilenceMs: 1000 }).length, 2);
});

test('hysteresis: probabilities between negThreshold and threshold continue the current state', () => {
  const probs = script(600, [[100, 200, 0.9], [200, 400, 0.4]]);
  assert.deepEqual(speechRegions(probs, 600 * FRAME), [{ start: 100 * FRAME - 6400, end: 400 * FRAME + 6400 }]);
  // 0.4 alone never opens a region.
  assert.deepEqual(speechRegions(script(600, [[100, 400, 0.4]]), 600 * FRAME), []);
});

test('regions shorter than minSpeechMs are dropped', () => {
  // 7 frames = 224 ms < 250 ms; 8 frames = 256 ms is kept.
  assert.deepEqual(speechRegions(script(400, [[100, 107, 0.9]]), 400 * FRAME), []);
  assert.equal(speechRegions(script(400, [[100, 108, 0.9]]), 400 * FRAME).length, 1);
});

test('close regions share the gap: each gets half instead of a full pad', () => {
  // Gap 20 frames = 10240 samples < 2 * 6400.
  const regions = speechRegions(script(400, [[50, 100, 0.9], [120, 200, 0.9]]), 400 * FRAME, { minSilenceMs: 100 });
  assert.deepEqual(regions, [
    { start: 50 * FRAME - 6400, end: 100 * FRAME + 5120 },
    { start: 120 * FRAME - 5120, end: 200 * FRAME + 6400 },
  ]);
});

test('speech longer than maxSpeechS is split at its last pause over 98 ms', () => {
  // 40 s of speech with a 0.5 s pause (16 frames) at 20 s; regions must stay under 30 s.
  const f = (s: number) => Math.round((s * SR) / FRAME);
  const probs = script(f(45), [[f(1), f(20), 0.9], [f(20.5), f(41), 0.9]]);
  const regions = speechRegions(probs, f(45) * FRAME);
  assert.equal(regions.length, 2);
  assert.ok(Math.abs(regions[0].end / SR - 20.4) < 0.2, `split near the pause, got ${regions[0].end / SR}`);
  for (const r of regions) assert.ok(r.end - r.start <= 30 * SR);
  // Without any pause the region is cut just before the limit.
  const solid = speechRegions(script(f(45), [[f(1), f(41), 0.9]]), f(45) * FRAME);
  assert.ok(solid.length >= 2);
  for (const r of solid) assert.ok(r.end - r.start <= 30 * SR, `region of ${(r.end - r.start) / SR} s`);
});

test('speech running to the end closes at the input length', () => {
  const regions = speechRegions(script(100, [[50, 100, 0.9]]), 100 * FRAME - 100);
  assert.deepEqual(regions, [{ start: 50 * FRAME - 6400, end: 100 * FRAME - 100 }]);
});

test('collectChunks joins region audio and groups up to maxDurationS', () => {
  const samples = Float32Array.from({ length: 10 * SR }, (_, i) => i);
  const regions = [
    { start: 1 * SR, end: 3 * SR },
    { start: 4 * SR, end: 5 * SR },
    { start: 7 * SR, end: 9 * SR },
  ];
  const [all] = collectChunks(samples, regions);
  assert.equal(all.samples.length, 5 * SR);
  assert.equal(all.samples[0], SR);
  assert.equal(all.samples[2 * SR], 4 * SR);
  assert.equal(all.samples[3 * SR], 7 * SR);
  const grouped = collectChunks(samples, regions, 3);
  assert.deepEqual(grouped.map((c) => [c.offsetS, c.durationS, c.regions.length]), [[0, 3, 2], [3, 2, 1]]);
  const none = collectChunks(samples, []);
  assert.equal(none.length, 1);
  assert.equal(none[0].samples.length, 0);
});

test('SpeechTimeMap maps joined-speech times back to the original audio (round trip)', () => {
  const regions = [
    { start: 1 * SR, end: 3 * SR },
    { start: 4 * SR, end: 5 * SR },
    { start: 7 * SR, end: 9 * SR },
  ];
  const map = new SpeechTimeMap(regions);
  // Every original time inside a region goes to the joined timeline and back unchanged.
  let joinedStart = 0;
  for (const r of regions) {
    for (let t = r.start / SR; t < r.end / SR; t += 0.13) {
      const joined = joinedStart + (t - r.start / SR);
      assert.equal(map.originalTime(joined), Math.round(t * 100) / 100);
    }
    joinedStart += (r.end - r.start) / SR;
  }
  // A boundary time: as an end it stays in the earlier region, as a start it begins the next.
  assert.equal(map.originalTime(2, true), 3);
  assert.equal(map.originalTime(2, false), 4);
  assert.equal(map.originalTime(100), 104);
  assert.equal(new SpeechTimeMap([]).originalTime(1.5), 1.5);
});

test('restoreSegment maps segment and word times like faster-whisper', async () => {
  const regions = [
    { start: 1 * SR, end: 3 * SR },
    { start: 10 * SR, end: 12 * SR },
  ];
  const map = new SpeechTimeMap(regions);
  const base = { id: 0, seek: 0, text: ' x', tokens: [], temperature: 0, avgLogprob: 0, compressionRatio: 1, noSpeechProb: 0 };
  // A segment ending exactly at the first region's end stays in it; one starting there moves to the second.
  assert.deepEqual([restoreSegment({ ...base, start: 0.5, end: 2 }, map).start, restoreSegment({ ...base, start: 0.5, end: 2 }, map).end], [1.5, 3]);
  assert.equal(restoreSegment({ ...base, start: 2, end: 3 }, map).start, 10);
  // Words follow the region of their middle; the segment spans first to last word.
  const words = [
    { word: ' a', start: 1.5, end: 1.9, probability: 1 },
    { word: ' b', start: 1.95, end: 2.5, probability: 1 },
  ];
  const restored = restoreSegment({ ...base, start: 1.5, end: 2.5, words }, map);
  assert.deepEqual(restored.words?.map((w) => [w.start, w.end]), [[2.5, 2.9], [9.95, 10.5]]);
  assert.deepEqual([restored.start, restored.end], [2.5, 10.5]);
  async function* one() {
    yield { ...base, start: 0, end: 1 };
  }
  const out = [];
  for await (const s of restoreSpeechTimestamps(one(), map)) out.push([s.start, s.end]);
  assert.deepEqual(out, [[1, 2]]);
});
