/**
 * The model pool: one load however many ask at once, TTL unloading, least-recently-used eviction under the
 * memory budget, in-use models kept, preload. Time is an injected clock moved by hand; nothing sleeps. The
 * last tests run the real thing: Whisper sessions loaded from the shared tiny model, released on unload.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ModelPool, type ModelSource } from '../../src/server/model-pool.js';
import { SpeechModels, poolKey } from '../../src/server/speech-models.js';
import { MoxingError } from '../../src/errors.js';

const SHARED_MODEL = resolve(process.cwd(), '../shared/models/whisper-tiny-random');

interface Loaded {
  readonly key: string;
  readonly serial: number;
  unloaded: boolean;
}

/** A source whose loads finish when the test says (`finish`), counting loads and unloads. */
function scripted(sizes: Record<string, number>) {
  const log = { loads: [] as string[], unloads: [] as string[], failNext: false };
  const waiting: (() => void)[] = [];
  let serial = 0;
  const source: ModelSource<Loaded> = {
    async locate(key) {
      if (log.failNext) {
        log.failNext = false;
        throw new MoxingError('MODEL_INVALID', `cannot load ${key}`);
      }
      return {
        bytes: sizes[key] ?? 100,
        load: async () => {
          log.loads.push(key);
          await new Promise<void>((r) => waiting.push(r));
          return { key, serial: ++serial, unloaded: false };
        },
      };
    },
    async unload(model) {
      model.unloaded = true;
      log.unloads.push(model.key);
    },
  };
  /** Lets every pending load finish. */
  const finish = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    for (const go of waiting.splice(0)) go();
    await new Promise((r) => setImmediate(r));
  };
  return { source, log, finish };
}

/** A pool on a clock the test moves; every load is let through at once. */
function poolWith(sizes: Record<string, number>, settings: { modelTtl?: number; modelMemory?: number } = {}) {
  const clock = { now: 1_000_000 };
  const s = scripted(sizes);
  const loadTimes: number[] = [];
  const pool = new ModelPool<Loaded>({ source: s.source, ...settings, now: () => clock.now, sweepEveryMs: 0, onLoad: (_k, seconds) => loadTimes.push(seconds) });
  const use = async (key: string): Promise<Loaded> => {
    const pending = pool.use(key, async (m) => m);
    await s.finish();
    return pending;
  };
  return { pool, clock, use, loadTimes, ...s };
}

describe('ModelPool', () => {
  test('concurrent first requests share one load', async () => {
    const { pool, log, finish, clock, loadTimes } = poolWith({});
    const leases = [pool.acquire('a'), pool.acquire('a'), pool.acquire('a')];
    await new Promise((r) => setImmediate(r));
    clock.now += 2500;
    await finish();
    const got = await Promise.all(leases);
    assert.deepEqual(log.loads, ['a']);
    assert.ok(got.every((l) => l.model === got[0].model));
    assert.deepEqual(loadTimes, [2.5]);
    assert.deepEqual(pool.list(), [{ key: 'a', bytes: 100, users: 3, pinned: false, loaded: true }]);
    for (const l of got) l.release();
    assert.equal(pool.list()[0].users, 0);
  });

  test('close waits for a model in use to be released before unloading it', async () => {
    const { pool, log, finish } = poolWith({});
    const pending = pool.acquire('a');
    await finish();
    const lease = await pending;
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(closed, false);
    assert.deepEqual(log.unloads, []);
    assert.equal(lease.model.unloaded, false);
    lease.release();
    await closing;
    assert.deepEqual(log.unloads, ['a']);
    await assert.rejects(pool.acquire('a'), (e: unknown) => e instanceof MoxingError && e.code === 'UNAVAILABLE');
  });

  test('a model idle past the TTL is unloaded, and loads again on its next use', async () => {
    const { pool, log, clock, use } = poolWith({}, { modelTtl: 60 });
    const first = await use('a');
    clock.now += 59_000;
    await pool.sweep();
    assert.ok(pool.isLoaded('a'));
    clock.now += 1000;
    await pool.sweep();
    assert.equal(pool.isLoaded('a'), false);
    assert.equal(first.unloaded, true);
    assert.deepEqual(log.unloads, ['a']);
    const second = await use('a');
    assert.notEqual(second, first);
    assert.deepEqual(log.loads, ['a', 'a']);
  });

  test('TTL 0 unloads when the last user is done; -1 never unloads', async () => {
    const zero = poolWith({}, { modelTtl: 0 });
    await zero.use('a');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(zero.log.unloads, ['a']);
    const never = poolWith({}, { modelTtl: -1 });
    await never.use('a');
    never.clock.now += 1e12;
    await never.pool.sweep();
    assert.ok(never.pool.isLoaded('a'));
  });

  test('over the memory budget the least recently used idle model goes first', async () => {
    const { pool, log, clock, use } = poolWith({ a: 100, b: 100, c: 100 }, { modelMemory: 250 });
    await use('a');
    clock.now += 1;
    await use('b');
    clock.now += 1;
    await use('a'); // a is now more recent than b
    clock.now += 1;
    await use('c');
    assert.deepEqual(log.unloads, ['b']);
    assert.deepEqual(pool.list().map((m) => m.key).sort(), ['a', 'c']);
    assert.equal(pool.bytes, 200);
  });

  test('a model in use is never evicted nor unloaded by its TTL', async () => {
    const { pool, log, clock, finish } = poolWith({ a: 100, b: 100 }, { modelMemory: 150, modelTtl: 1 });
    const held = pool.acquire('a');
    await finish();
    const lease = await held;
    clock.now += 10_000;
    await pool.sweep();
    const refused = await pool.acquire('b').catch((e: unknown) => e);
    assert.ok(refused instanceof MoxingError && refused.code === 'BUSY', String(refused));
    assert.deepEqual(log.unloads, []);
    assert.equal(lease.model.unloaded, false);
    lease.release();
    const b = pool.acquire('b');
    await finish();
    (await b).release();
    assert.deepEqual(log.unloads, ['a']);
  });

  test('a model larger than the whole budget is refused before it loads', async () => {
    const { pool, log } = poolWith({ big: 1000 }, { modelMemory: 500 });
    const error = await pool.acquire('big').catch((e: unknown) => e);
    assert.ok(error instanceof MoxingError && error.code === 'UNAVAILABLE');
    assert.match(error.message, /more than the whole model memory budget/);
    assert.deepEqual(log.loads, []);
  });

  test('a failed load is not remembered: the next request tries again', async () => {
    const { pool, log, use } = poolWith({});
    log.failNext = true;
    await assert.rejects(pool.acquire('a'), /cannot load a/);
    assert.deepEqual(pool.list(), []);
    await use('a');
    assert.deepEqual(log.loads, ['a']);
  });

  test('preloaded models stay loaded past the TTL and are not evicted', async () => {
    const { pool, log, clock, finish, use } = poolWith({ a: 100, b: 100, c: 100 }, { modelTtl: 5, modelMemory: 250 });
    const preload = pool.preload(['a']);
    await finish();
    await preload;
    assert.ok(pool.isLoaded('a'));
    await use('b');
    clock.now += 1;
    await use('c'); // b goes, the pinned a stays
    clock.now += 3_600_000;
    await pool.sweep();
    assert.deepEqual(log.unloads, ['b', 'c']);
    assert.deepEqual(pool.list().map((m) => [m.key, m.pinned]), [['a', true]]);
  });

  test('options are checked', () => {
    const { source } = scripted({});
    assert.throws(() => new ModelPool({ source, modelTtl: -5 }), /modelTtl/);
    assert.throws(() => new ModelPool({ source, modelMemory: 0 }), /modelMemory/);
  });
});

describe('SpeechModels on the tiny Whisper', () => {
  // A copy of its own: sessions are cached per file, and other tests in this process may hold the shared one.
  const root = mkdtempSync(join(tmpdir(), 'moxing-pool-'));
  const MODEL = join(root, 'whisper-tiny-random');
  before(() => cpSync(SHARED_MODEL, MODEL, { recursive: true }));
  after(() => rmSync(root, { recursive: true, force: true }));
  const onnx = (name: string) => statSync(join(MODEL, 'onnx', name)).size;

  test('preload loads the served model, sized by its ONNX files; close releases the sessions', async () => {
    const speech = new SpeechModels({ models: [MODEL], sweepEveryMs: 0 });
    assert.deepEqual(speech.notLoaded(), ['whisper-tiny-random']);
    await speech.preload();
    assert.deepEqual(speech.notLoaded(), []);
    const [info] = speech.pool.list();
    assert.equal(info.key, poolKey(MODEL, false));
    assert.equal(info.bytes, onnx('encoder_model.onnx') + onnx('decoder_model_merged.onnx'));
    const model = await speech.use(MODEL, false, async (m) => m);
    await speech.pool.close();
    await assert.rejects(model.encode(new Float32Array(80 * 3000)), 'a released session no longer runs');
  });

  test('an unloaded model loads again into fresh sessions that run', async () => {
    const clock = { now: 0 };
    const speech = new SpeechModels({ models: [MODEL], modelTtl: 1, now: () => clock.now, sweepEveryMs: 0 });
    const first = await speech.use(MODEL, false, async (m) => m);
    clock.now += 1000;
    await speech.pool.sweep();
    assert.equal(speech.pool.isLoaded(poolKey(MODEL, false)), false);
    const features = await speech.use(MODEL, false, async (m) => {
      assert.notEqual(m, first);
      return m.encode(new Float32Array(80 * 3000));
    });
    assert.equal(features.batch, 1);
    await speech.pool.close();
  });

  test('the models with and without word timestamps share the encoder session: unloading one leaves the other running', async () => {
    const clock = { now: 0 };
    const speech = new SpeechModels({ models: [MODEL], modelTtl: 1, now: () => clock.now, sweepEveryMs: 0 });
    await speech.use(MODEL, false, async (m) => m);
    clock.now += 500;
    const timestamped = await speech.use(MODEL, true, async (m) => m);
    clock.now += 600; // the plain model is past its TTL, the timestamped one is not
    await speech.pool.sweep();
    assert.equal(speech.pool.isLoaded(poolKey(MODEL, false)), false);
    assert.equal(speech.pool.isLoaded(poolKey(MODEL, true)), true);
    const features = await speech.use(MODEL, true, (m) => {
      assert.equal(m, timestamped);
      return m.encode(new Float32Array(80 * 3000));
    });
    assert.equal(features.batch, 1);
    await speech.pool.close();
    await assert.rejects(timestamped.encode(new Float32Array(80 * 3000)), 'released once its last holder let go');
  });
});
