import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSession, releaseSessions, resolveRuntimeOptions, cudaAvailable, DEFAULT_RUNTIME, int64, inputShapes, Tensor } from '../src/runtime/index.js';
import { isMoxingError } from '../src/errors.js';
import { WhisperModel } from '../src/asr/whisper/index.js';
import * as ort from 'onnxruntime-node';
import { float16ToFloat32, float32ToFloat16 } from '../src/runtime/float16.js';
import { GraphBuilder, attr, encodeModel, modelProto } from './models/onnx-builder.js';

const ENCODER = new URL('../../shared/models/whisper-tiny-random/onnx/encoder_model.onnx', import.meta.url).pathname;

test('a model file is loaded once per process and option set', async () => {
  const a = await loadSession(ENCODER, { intraOpThreads: 1 });
  const b = await loadSession(ENCODER, { intraOpThreads: 1 });
  assert.equal(a, b);
  assert.deepEqual(a.inputNames, ['input_features']);
  assert.deepEqual(inputShapes(a).get('input_features')?.slice(1), [80, 3000]);
});

test('after releaseSessions, loading a model again reads its files again: no model kept with disposed sessions', async () => {
  const dir = new URL('../../shared/models/whisper-tiny-random', import.meta.url).pathname;
  const options = { runtime: { intraOpThreads: 1 } };
  const first = await WhisperModel.load(dir, options);
  assert.equal(await WhisperModel.load(dir, options), first, 'loaded once while its sessions live');
  await releaseSessions();
  const second = await WhisperModel.load(dir, options);
  assert.notEqual(second, first);
  const features = await second.encode(new Float32Array(80 * 3000), 1);
  assert.deepEqual(features.tensor.dims.slice(0, 2), [1, 1500]);
});

test('a missing model file is a MODEL_INVALID error naming the path', async () => {
  await assert.rejects(loadSession('/nonexistent/model.onnx'), (e) => isMoxingError(e, 'MODEL_INVALID') && /nonexistent/.test(e.message));
});

test('cuda without a CUDA build gives DEVICE_UNAVAILABLE with the fix', async (t) => {
  if (cudaAvailable()) return t.skip('this machine has a CUDA build of onnxruntime-node');
  await assert.rejects(loadSession(ENCODER, { device: 'cuda' }), (e) => isMoxingError(e, 'DEVICE_UNAVAILABLE') && /--device cpu/.test(e.message));
});

test('bad runtime options are rejected with the bad value', () => {
  assert.throws(() => resolveRuntimeOptions({ intraOpThreads: 0 }), /intraOpThreads.*got 0/);
  assert.throws(() => resolveRuntimeOptions({ device: 'tpu' as 'cpu' }), /unknown device "tpu"/);
  assert.equal(resolveRuntimeOptions({ intraOpThreads: undefined }).intraOpThreads >= 1, true);
});

test('MOXING_ORT_SPINNING turns spinning on for sessions not told otherwise; a bad value is refused, naming it', () => {
  const saved = process.env.MOXING_ORT_SPINNING;
  try {
    for (const [value, expected] of [['1', true], ['true', true], ['0', false], ['false', false], ['', false]] as const) {
      process.env.MOXING_ORT_SPINNING = value;
      assert.equal(resolveRuntimeOptions().spinning, expected, value);
    }
    process.env.MOXING_ORT_SPINNING = '1';
    assert.equal(resolveRuntimeOptions({ spinning: false }).spinning, false, 'an explicit option wins');
    process.env.MOXING_ORT_SPINNING = 'yes';
    assert.throws(() => resolveRuntimeOptions(), /MOXING_ORT_SPINNING must be 1 or 0/);
  } finally {
    if (saved === undefined) delete process.env.MOXING_ORT_SPINNING;
    else process.env.MOXING_ORT_SPINNING = saved;
  }
});

test('MOXING_ORT_THREADS sets the intra-op threads of sessions not given a count; a bad value is refused, naming it', () => {
  const saved = process.env.MOXING_ORT_THREADS;
  try {
    process.env.MOXING_ORT_THREADS = '';
    assert.equal(resolveRuntimeOptions().intraOpThreads, DEFAULT_RUNTIME.intraOpThreads, 'empty: all cores');
    process.env.MOXING_ORT_THREADS = ' 3 ';
    assert.equal(resolveRuntimeOptions().intraOpThreads, 3);
    assert.equal(resolveRuntimeOptions({ intraOpThreads: 2 }).intraOpThreads, 2, 'an explicit option wins');
    for (const bad of ['0', '1.5', 'two', '-1', '2000']) {
      process.env.MOXING_ORT_THREADS = bad;
      assert.throws(() => resolveRuntimeOptions(), new RegExp(`MOXING_ORT_THREADS must be a whole number from 1 to 1024, got "${bad}"`));
    }
  } finally {
    if (saved === undefined) delete process.env.MOXING_ORT_THREADS;
    else process.env.MOXING_ORT_THREADS = saved;
  }
});

test('float16ToFloat32 widens half bits exactly: normals, the largest, subnormals, zeros, infinities, NaN', () => {
  const bits = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00]);
  const values = float16ToFloat32(bits);
  assert.deepEqual(Array.from(values.subarray(0, 10)), [1, -2, 0.333251953125, 65504, 2 ** -14, 2 ** -24, 1023 * 2 ** -24, 0, -0, Infinity]);
  assert.equal(values[10], -Infinity);
  assert.ok(Number.isNaN(values[11]));
  const out = new Float32Array(2);
  assert.equal(float16ToFloat32(bits.subarray(0, 2), out), out, 'into the given array');
});

test('float32ToFloat16 rounds as ONNX Runtime’s Cast does, ties to even, over float32 bit patterns of every exponent', async () => {
  const g = new GraphBuilder('cast');
  g.output(g.op('Cast', [g.input('x', 'float32', ['n'])], { to: attr.int(10) }, 'y'), 'float16', ['n']);
  const cast = await ort.InferenceSession.create(encodeModel(modelProto(g.build())));
  // 2^20 patterns spread over all 2^32: every exponent, subnormals, both signs, infinities and NaNs.
  const patterns = Uint32Array.from({ length: 1 << 20 }, (_, i) => (i * 4096 + ((i * 2654435761) >>> 20)) >>> 0);
  const values = new Float32Array(patterns.buffer);
  values.set([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519.996, 65520, 2 ** -25, 3 * 2 ** -26, -0], 0);
  const theirs = (await cast.run({ x: new ort.Tensor('float32', values, [values.length]) })).y.data as Uint16Array;
  const ours = float32ToFloat16(values);
  assert.deepEqual(Array.from(ours.subarray(0, 8)), [0x3c00, 0x3c02, 0x7bff, 0x7bff, 0x7c00, 0x0000, 0x0001, 0x8000]);
  const halves = float16ToFloat32(ours);
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) assert.ok(Number.isNaN(halves[i]) && Number.isNaN(float16ToFloat32(theirs.subarray(i, i + 1))[0]), `NaN at ${i}`);
    else if (ours[i] !== theirs[i]) assert.fail(`${values[i]}: ours 0x${ours[i].toString(16)}, ONNX Runtime's 0x${theirs[i].toString(16)}`);
  }
});

test('int64 tensors hold the given ids', () => {
  const t = int64([50258, 50259], [1, 2]);
  assert.deepEqual(Array.from(t.data as BigInt64Array, Number), [50258, 50259]);
});

test('spinning: off by default, a separate cached session when on, and the same outputs either way', async () => {
  assert.equal(resolveRuntimeOptions().spinning, false);
  assert.throws(() => resolveRuntimeOptions({ spinning: 'yes' as unknown as boolean }), /spinning must be true or false, got yes/);
  const quiet = await loadSession(ENCODER, { intraOpThreads: 2 });
  const spinning = await loadSession(ENCODER, { intraOpThreads: 2, spinning: true });
  assert.notEqual(quiet, spinning);
  const mel = new Float32Array(80 * 3000).map((_, i) => Math.sin(i / 7));
  const feeds = { input_features: new Tensor('float32', mel, [1, 80, 3000]) };
  const [a, b] = [await quiet.run(feeds), await spinning.run(feeds)];
  assert.deepEqual(Array.from(a.last_hidden_state.data as Float32Array), Array.from(b.last_hidden_state.data as Float32Array));
});
