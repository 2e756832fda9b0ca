/**
 * The sequence graph (one ORT call per push) against the file as shipped (one call per frame): same
 * probabilities on real speech and on generated signals, streaming in any split, state carried across pushes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { decodeAudio } from '../../src/audio/index.js';
import { SileroVad, sileroModelPath, VAD_FRAME_SAMPLES } from '../../src/audio/vad/index.js';
import { buildSequenceGraph, onnxGateOrder } from '../../src/audio/vad/sequence-graph.js';
import { isMoxingError } from '../../src/errors.js';
import { concat, espeak, silence, tones, whiteNoise } from './signals.js';

const { onnx } = onnxProto;
const SHARED_AUDIO = new URL('../../../shared/audio/', import.meta.url);
const TOLERANCE = 1e-5;

const sequencePromise = SileroVad.load(undefined, { graph: 'sequence' });
const framePromise = SileroVad.load(undefined, { graph: 'frame' });

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function assertParity(audio: Float32Array): Promise<Float32Array> {
  const [sequence, frame] = await Promise.all([sequencePromise, framePromise]);
  const fast = await sequence.probabilities(audio);
  const reference = await frame.probabilities(audio);
  assert.equal(fast.length, Math.floor(audio.length / VAD_FRAME_SAMPLES) + 1);
  const diff = maxAbsDiff(fast, reference);
  assert.ok(diff <= TOLERANCE, `max abs difference ${diff} over ${fast.length} frames`);
  return fast;
}

test('real speech: sequence-graph probabilities equal the per-frame model within 1e-5 (jfk, a 105 s dev clip)', async () => {
  const jfk = await assertParity(await decodeAudio(new URL('jfk.flac', SHARED_AUDIO).pathname));
  // Speech throughout: most frames are confidently speech, so this compares real, varied values.
  assert.ok(jfk.filter((p) => p > 0.5).length > jfk.length / 2);
  // 3294 frames: several blocks of 1024, so the state also crosses block boundaries inside one push.
  await assertParity(await decodeAudio(new URL('dev/long/en_long_00.wav', SHARED_AUDIO).pathname));
});

for (const [name, make] of [
  ['digital silence', () => silence(3)],
  ['quiet white noise', () => whiteNoise(3, 0.01)],
  ['loud white noise', () => whiteNoise(3, 0.5, 7)],
  ['music-like tones', () => tones(4)],
  ['loud tones', () => tones(4, 0.9)],
] as const) {
  test(`generated ${name}: sequence-graph probabilities equal the per-frame model within 1e-5`, async () => {
    await assertParity(make());
  });
}

test('espeak speech between silences: parity within 1e-5', async () => {
  await assertParity(concat(silence(0.7), await espeak('Voice activity detection, one frame at a time.'), silence(1)));
});

test('an input shorter than one frame: no frame from push, one padded frame from flush, as the reference', async () => {
  const [sequence, frame] = await Promise.all([sequencePromise, framePromise]);
  const audio = whiteNoise(100 / 16000, 0.3, 3);
  assert.equal(audio.length, 100);
  const stream = sequence.stream();
  assert.equal((await stream.push(audio)).length, 0);
  const tail = await stream.flush();
  assert.equal(tail.length, 1);
  assert.ok(maxAbsDiff(tail, await frame.probabilities(audio)) <= TOLERANCE);
  // An empty input still gets faster-whisper's one frame of zeros; an unaligned flush without it gets nothing.
  assert.equal((await sequence.probabilities(new Float32Array(0))).length, 1);
  assert.equal((await sequence.stream().flush(false)).length, 0);
});

test('odd-sized pushes, including one of more than a block (1024 frames) per call, equal one push exactly', async () => {
  const sequence = await sequencePromise;
  const audio = await decodeAudio(new URL('dev/long/en_long_03.wav', SHARED_AUDIO).pathname);
  const whole = await sequence.probabilities(audio);
  const sizes = [7, 511, 1, 2049 * VAD_FRAME_SAMPLES + 13, 300, 512, 4097];
  const stream = sequence.stream();
  const pieces: Float32Array[] = [];
  for (let at = 0, i = 0; at < audio.length; i++) {
    const size = sizes[i % sizes.length];
    pieces.push(await stream.push(audio.subarray(at, at + size)));
    at += size;
  }
  pieces.push(await stream.flush());
  assert.deepEqual(concat(...pieces), whole);
});

test('the recurrent state carries across pushes: continuing differs from starting afresh', async () => {
  const sequence = await sequencePromise;
  const audio = concat(await espeak('The state of the network carries over.'), await espeak('And so does the context.'));
  const cut = 40 * VAD_FRAME_SAMPLES + 100;
  const stream = sequence.stream();
  const first = await stream.push(audio.subarray(0, cut));
  const second = await stream.push(audio.subarray(cut));
  const whole = await sequence.probabilities(audio);
  assert.deepEqual(concat(first, second), whole.subarray(0, first.length + second.length));
  const fresh = await sequence.stream().push(audio.subarray(first.length * VAD_FRAME_SAMPLES));
  assert.ok(maxAbsDiff(fresh.subarray(0, 20), second.subarray(0, 20)) > 1e-3, 'a fresh state should change the first frames');
});

test('the built graph: frames/state in, probs/stateN out, one LSTM over the sequence, no If', () => {
  const bytes = buildSequenceGraph(readFileSync(sileroModelPath()), 'silero', 576);
  const graph = onnx.ModelProto.decode(bytes).graph;
  assert.ok(graph);
  assert.deepEqual(graph.input?.map((i) => i.name), ['frames', 'state']);
  assert.deepEqual(graph.output?.map((o) => o.name), ['probs', 'stateN']);
  const ops = (graph.node ?? []).map((n) => n.opType);
  assert.equal(ops.filter((op) => op === 'LSTM').length, 1);
  assert.equal(ops.filter((op) => op === 'Conv').length, 4);
  assert.ok(!ops.includes('If'));
});

test('gate order: PyTorch i, f, g, o blocks become ONNX i, o, f, c', () => {
  const blocks = Float32Array.from([1, 1, 2, 2, 3, 3, 4, 4]);
  assert.deepEqual([...onnxGateOrder(blocks)], [1, 1, 4, 4, 2, 2, 3, 3]);
});

test('errors: a file that is not Silero v5 is MODEL_INVALID naming it; an unknown graph kind is BAD_ARGUMENT', async () => {
  const other = onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 16 }], graph: { name: 'g', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }] } }),
  ).finish();
  assert.throws(() => buildSequenceGraph(other, 'other.onnx', 576), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && e.message.includes('other.onnx'));
  await assert.rejects(
    SileroVad.load(undefined, { graph: 'batched' as never }),
    (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && e.message.includes('batched'),
  );
});
