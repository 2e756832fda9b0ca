/**
 * ONNX Runtime sessions: one place that picks the execution provider, the thread counts and the graph
 * optimisation level, and caches sessions so each model file is loaded once per process.
 */
import { availableParallelism } from 'node:os';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve as resolvePath } from 'node:path';
import * as ort from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { clearModelCaches } from './model-caches.js';

export type Device = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** Execution provider. @default 'cpu' */
  device?: Device;
  /**
   * Threads used inside one operator.
   * @default `MOXING_ORT_THREADS` in the environment, else all cores (os.availableParallelism())
   */
  intraOpThreads?: number;
  /** Threads used across independent operators. @default 1 (our graphs are sequential) */
  interOpThreads?: number;
  /** ORT graph optimisation level. @default 'all' */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let ORT's worker threads spin between operators instead of sleeping. Off by default: on a machine whose
   * cores other processes also use, spinning workers take the cores from the thread that has work (a base
   * Whisper decoder step at 2 threads ran 2.6-2.8x slower with spinning on a loaded 2-core machine). On a machine
   * whose cores are free it pays: the same 1-row step took 6.1-7.2 ms spinning against 7.8-8.8 ms sleeping.
   * @default false, or `MOXING_ORT_SPINNING=1` in the environment (the CLI and the server have no other switch)
   */
  spinning?: boolean;
}

export const DEFAULT_RUNTIME: Readonly<Required<RuntimeOptions>> = Object.freeze({
  device: 'cpu',
  intraOpThreads: availableParallelism(),
  interOpThreads: 1,
  graphOptimization: 'all',
  spinning: false,
});

const DEVICES: readonly Device[] = ['cpu', 'cuda'];

/** `MOXING_ORT_SPINNING`: 1 or true turns spinning on for every session not told otherwise; unset, 0 or false leave it off. */
function spinningFromEnvironment(): boolean {
  const value = process.env.MOXING_ORT_SPINNING?.trim().toLowerCase();
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new MoxingError('BAD_ARGUMENT', `MOXING_ORT_SPINNING must be 1 or 0 (true or false), got "${process.env.MOXING_ORT_SPINNING?.slice(0, 20)}"`);
}

/**
 * `MOXING_ORT_THREADS`: the intra-op thread count of every session not given one, for a process that shares its
 * cores (several servers on one machine, or test files run side by side); unset or empty leaves all cores.
 */
function threadsFromEnvironment(): number | undefined {
  const value = process.env.MOXING_ORT_THREADS?.trim();
  if (value === undefined || value === '') return undefined;
  const threads = Number(value);
  if (/^\d+$/.test(value) && threads >= 1 && threads <= 1024) return threads;
  throw new MoxingError('BAD_ARGUMENT', `MOXING_ORT_THREADS must be a whole number from 1 to 1024, got "${value.slice(0, 20)}"`);
}

export function resolveRuntimeOptions(options: RuntimeOptions = {}): Required<RuntimeOptions> {
  const fromEnvironment = { spinning: spinningFromEnvironment(), ...stripUndefined({ intraOpThreads: threadsFromEnvironment() }) };
  const merged = { ...DEFAULT_RUNTIME, ...fromEnvironment, ...stripUndefined(options) };
  if (!DEVICES.includes(merged.device)) {
    throw new MoxingError('BAD_ARGUMENT', `unknown device "${merged.device}": expected one of ${DEVICES.join(', ')}`);
  }
  if (typeof merged.spinning !== 'boolean') throw new MoxingError('BAD_ARGUMENT', `spinning must be true or false, got ${String(merged.spinning)}`);
  for (const key of ['intraOpThreads', 'interOpThreads'] as const) {
    const value = merged[key];
    if (!Number.isInteger(value) || value < 1 || value > 1024) {
      throw new MoxingError('BAD_ARGUMENT', `${key} must be a whole number from 1 to 1024, got ${value}`);
    }
  }
  return merged;
}

/**
 * Whether this onnxruntime-node install can run on CUDA. ORT lists 'cuda' as a backend either way; the
 * provider library is only present when the package was installed with its CUDA download enabled.
 */
export function cudaAvailable(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const packageDir = dirname(require.resolve('onnxruntime-node/package.json'));
    const binDir = join(packageDir, 'bin');
    return findFile(binDir, 'libonnxruntime_providers_cuda.so', 5);
  } catch {
    return false;
  }
}

function findFile(dir: string, name: string, depth: number): boolean {
  if (depth < 0 || !existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name === name) return true;
    if (entry.isDirectory() && findFile(join(dir, entry.name), name, depth - 1)) return true;
  }
  return false;
}

const cache = new Map<string, Promise<ort.InferenceSession>>();
/** The cache key of each loaded session, so that one owner can release it (releaseSession). */
const keys = new WeakMap<ort.InferenceSession, string>();
/** How many loads handed out each cached session: releaseSession disposes it only when the last one lets go. */
const holders = new Map<string, number>();

function hold(key: string): void {
  holders.set(key, (holders.get(key) ?? 0) + 1);
}

/** Loads (once per process and per option set) an ONNX model file into an inference session. */
export function loadSession(path: string, options: RuntimeOptions = {}): Promise<ort.InferenceSession> {
  const resolved = resolveRuntimeOptions(options);
  // Relative and absolute spellings of one file share a session.
  const key = JSON.stringify([resolvePath(path), resolved]);
  let session = cache.get(key);
  hold(key);
  if (!session) {
    session = createSession(path, resolved);
    session.then((s) => keys.set(s, key), () => undefined);
    cache.set(key, session);
    // A failed load must not poison the cache: the next call retries.
    session.catch(() => cache.delete(key));
  }
  return session;
}

/**
 * Loads (once per process, per `key` and option set) a model built in memory, such as a graph rewritten at load
 * time; `build` runs only when no session for `key` is cached.
 */
export function loadSessionFromBytes(key: string, build: () => Uint8Array | Promise<Uint8Array>, options: RuntimeOptions = {}): Promise<ort.InferenceSession> {
  return loadBuilt(['bytes', key], options, async () => createSession(await build(), resolveRuntimeOptions(options), key));
}

/** A model file made for one load (a rewritten copy in a temporary folder), removed once the session holds it. */
export interface TemporaryModel {
  readonly path: string;
  cleanup(): Promise<void>;
}

/**
 * Loads (once per process, per `key` and option set) a model that `build` writes to a temporary file: ORT reads
 * it from disk as from any path (no copy of the bytes in JavaScript), and the file is removed right after.
 */
export function loadSessionFromTemporaryFile(key: string, build: () => Promise<TemporaryModel>, options: RuntimeOptions = {}): Promise<ort.InferenceSession> {
  return loadBuilt(['file', key], options, async () => {
    const made = await build();
    try {
      return await createSession(made.path, resolveRuntimeOptions(options), key);
    } finally {
      // A file the session still maps may refuse removal on some systems; the load stands either way.
      await made.cleanup().catch(() => undefined);
    }
  });
}

function loadBuilt(kind: readonly string[], options: RuntimeOptions, make: () => Promise<ort.InferenceSession>): Promise<ort.InferenceSession> {
  const resolved = resolveRuntimeOptions(options);
  const cacheKey = JSON.stringify([...kind, resolved]);
  let session = cache.get(cacheKey);
  hold(cacheKey);
  if (!session) {
    // A build failure is a MODEL_INVALID from the builder; like a failed load, it is not cached.
    session = Promise.resolve().then(make);
    session.then((s) => keys.set(s, cacheKey), () => undefined);
    cache.set(cacheKey, session);
    session.catch(() => cache.delete(cacheKey));
  }
  return session;
}

async function createSession(source: string | Uint8Array, options: Required<RuntimeOptions>, label = String(source)): Promise<ort.InferenceSession> {
  if (typeof source === 'string' && !existsSync(source)) throw new MoxingError('MODEL_INVALID', `model file not found: ${label}; check the path, or fetch the model with \`moxing pull\``);
  if (options.device === 'cuda' && !cudaAvailable()) {
    throw new MoxingError(
      'DEVICE_UNAVAILABLE',
      'CUDA was requested but this onnxruntime-node install has no CUDA provider. ' +
        'Reinstall it with CUDA: `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12` (see README, "GPU (CUDA)"), or use --device cpu.',
    );
  }
  try {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: options.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: options.interOpThreads,
      graphOptimizationLevel: options.graphOptimization,
      executionMode: 'sequential',
      extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' }, inter_op: { allow_spinning: options.spinning ? '1' : '0' } } },
    };
    return await (typeof source === 'string' ? ort.InferenceSession.create(source, sessionOptions) : ort.InferenceSession.create(source, sessionOptions));
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `ONNX Runtime could not load ${label}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Lets go of one load of a session (the server's model pool unloading a model). Two models that share a file
 * (Whisper with and without its timestamped decoder share the encoder) share its session, so it is disposed,
 * and dropped from the cache for the next load to read the file again, only when its last holder lets go.
 */
export async function releaseSession(session: ort.InferenceSession): Promise<void> {
  const key = keys.get(session);
  if (key !== undefined) {
    const left = (holders.get(key) ?? 1) - 1;
    if (left > 0) {
      holders.set(key, left);
      return;
    }
    holders.delete(key);
    if (cache.has(key) && (await cache.get(key)!.catch(() => undefined)) === session) cache.delete(key);
  }
  await session.release();
}

/** Releases every cached session (tests, long-running servers switching models). */
export async function releaseSessions(): Promise<void> {
  const sessions = [...cache.values()];
  cache.clear();
  holders.clear();
  clearModelCaches();
  await Promise.allSettled(sessions.map(async (s) => (await s).release()));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
