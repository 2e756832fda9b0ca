/**
 * Models loaded on demand, as speaches does: a served model loads on its first use (requests arriving during
 * the load share it), is unloaded once idle for `modelTtl` seconds, and the loaded models' sizes (their ONNX
 * files' bytes) stay under `modelMemory` by unloading the least recently used idle ones first. A model in use
 * is never unloaded; preloaded models stay loaded (they are what /ready promises).
 *
 * The clock is injected (`now`) and the idle sweep is a method, so tests drive time by hand; the server also
 * sweeps on a timer.
 */
import { MoxingError, quoteInput } from '../errors.js';
import { formatBytes } from '../calc/units.js';

export interface ModelPoolSettings {
  /**
   * Seconds a model may stay idle before it is unloaded (its ONNX Runtime sessions released); 0 unloads it
   * when its last user is done, -1 never. @default 300
   */
  modelTtl: number;
  /**
   * Bytes the loaded models may take together (estimated from their ONNX files); past it the least recently
   * used idle models are unloaded first. Undefined: no budget. @default undefined
   */
  modelMemory: number | undefined;
  /** Load the served models at start-up (GET /ready answers 503 until they are loaded). @default false */
  preload: boolean;
}

export const DEFAULT_MODEL_POOL: Readonly<ModelPoolSettings> = Object.freeze({ modelTtl: 300, modelMemory: undefined, preload: false });

/** How the pool gets a model: where it is and what it costs, then the load itself. */
export interface ModelSource<M> {
  /** Finds the model's files (may download) and the bytes they take; `load` then loads them. */
  locate(key: string): Promise<{ bytes: number; load: () => Promise<M> }>;
  /** Frees what `load` took (releases the ONNX Runtime sessions). */
  unload(model: M): Promise<void>;
}

export interface ModelPoolEvents {
  /** A model finished loading, `seconds` after its load started. */
  onLoad?(key: string, seconds: number, bytes: number): void;
  /** A model was unloaded: idle past its TTL, evicted for room, or the pool closed. */
  onUnload?(key: string, reason: 'ttl' | 'memory' | 'close'): void;
}

export interface ModelPoolOptions<M> extends Partial<Pick<ModelPoolSettings, 'modelTtl' | 'modelMemory'>>, ModelPoolEvents {
  source: ModelSource<M>;
  /** The clock, in milliseconds. @default Date.now */
  now?: () => number;
  /** How often a timer sweeps idle models; 0: never (call sweep()). @default min(TTL, 30 s), at least 1 s */
  sweepEveryMs?: number;
}

/** A model handed out; `release` it when the work is done (use() does). */
export interface ModelLease<M> {
  readonly model: M;
  release(): void;
}

export interface LoadedModelInfo {
  readonly key: string;
  readonly bytes: number;
  readonly users: number;
  readonly pinned: boolean;
  readonly loaded: boolean;
}

interface Entry<M> {
  readonly key: string;
  readonly ready: Promise<M>;
  model: M | undefined;
  bytes: number;
  users: number;
  lastUsed: number;
  pinned: boolean;
}

export class ModelPool<M> {
  private readonly entries = new Map<string, Entry<M>>();
  private readonly source: ModelSource<M>;
  private readonly ttlMs: number;
  private readonly budget: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ModelPoolOptions<M>) {
    this.source = options.source;
    const ttl = options.modelTtl ?? DEFAULT_MODEL_POOL.modelTtl;
    if (!(Number.isFinite(ttl) && (ttl >= 0 || ttl === -1))) throw new MoxingError('BAD_ARGUMENT', `modelTtl must be seconds >= 0, or -1 for never, got ${ttl}`);
    const memory = options.modelMemory;
    if (memory !== undefined && !(memory > 0)) throw new MoxingError('BAD_ARGUMENT', `modelMemory must be a positive number of bytes, got ${memory}`);
    this.ttlMs = ttl === -1 ? Number.POSITIVE_INFINITY : ttl * 1000;
    this.budget = memory ?? Number.POSITIVE_INFINITY;
    this.now = options.now ?? Date.now;
    const every = options.sweepEveryMs ?? (Number.isFinite(this.ttlMs) ? Math.max(1000, Math.min(this.ttlMs, 30_000)) : 0);
    if (every > 0) {
      this.timer = setInterval(() => void this.sweep(), every);
      this.timer.unref();
    }
  }

  /** Runs `fn` with the model `key`, loading it first if needed; the model stays loaded while `fn` runs. */
  async use<T>(key: string, fn: (model: M) => Promise<T>): Promise<T> {
    const lease = await this.acquire(key);
    try {
      return await fn(lease.model);
    } finally {
      lease.release();
    }
  }

  /** The model `key`, loaded once however many ask at once. Release the lease when done. */
  async acquire(key: string): Promise<ModelLease<M>> {
    if (this.closed) throw new MoxingError('UNAVAILABLE', 'the model pool is closed (the server is stopping)');
    const entry = this.entries.get(key) ?? this.startLoad(key);
    entry.users++;
    let model: M;
    try {
      model = await entry.ready;
    } catch (error) {
      entry.users--;
      throw error;
    }
    entry.lastUsed = this.now();
    let released = false;
    return {
      model,
      release: () => {
        if (released) return;
        released = true;
        entry.users--;
        entry.lastUsed = this.now();
        if (entry.users === 0 && this.ttlMs === 0) void this.sweep();
      },
    };
  }

  /** Loads `keys` one after another and keeps them loaded (no TTL, no eviction). */
  async preload(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const lease = await this.acquire(key);
      this.entries.get(key)!.pinned = true;
      lease.release();
    }
  }

  /** Whether `key` is loaded (not loading, not unloaded). */
  isLoaded(key: string): boolean {
    return this.entries.get(key)?.model !== undefined;
  }

  /** The models loaded or loading, for /ready and /metrics. */
  list(): LoadedModelInfo[] {
    return [...this.entries.values()].map((e) => ({ key: e.key, bytes: e.bytes, users: e.users, pinned: e.pinned, loaded: e.model !== undefined }));
  }

  /** Bytes the loaded and loading models take together. */
  get bytes(): number {
    let total = 0;
    for (const e of this.entries.values()) total += e.bytes;
    return total;
  }

  /** Unloads the models idle for longer than the TTL. */
  async sweep(): Promise<void> {
    const now = this.now();
    const unloads: Promise<void>[] = [];
    for (const entry of [...this.entries.values()]) {
      if (this.idle(entry) && now - entry.lastUsed >= this.ttlMs) unloads.push(this.unload(entry, 'ttl'));
    }
    await Promise.all(unloads);
  }

  /** Stops the sweep timer and unloads every model (at shutdown, once the work has finished). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.entries.values()].map(async (entry) => {
      await entry.ready.catch(() => undefined);
      if (this.entries.get(entry.key) === entry) await this.unload(entry, 'close');
    }));
  }

  private idle(entry: Entry<M>): boolean {
    return entry.users === 0 && entry.model !== undefined && !entry.pinned;
  }

  private startLoad(key: string): Entry<M> {
    const entry: Entry<M> = { key, ready: undefined as unknown as Promise<M>, model: undefined, bytes: 0, users: 0, lastUsed: this.now(), pinned: false };
    (entry as { ready: Promise<M> }).ready = (async () => {
      const { bytes, load } = await this.source.locate(key);
      // Reserved before loading (synchronously after the estimate), so loads at once cannot overbook the budget.
      this.makeRoom(key, bytes);
      entry.bytes = bytes;
      const started = this.now();
      const model = await load();
      entry.model = model;
      this.options.onLoad?.(key, (this.now() - started) / 1000, bytes);
      return model;
    })();
    // A failed load is forgotten: the next request tries again.
    entry.ready.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    this.entries.set(key, entry);
    return entry;
  }

  /** Unloads least recently used idle models until `bytes` more fit the budget; fails when they cannot. */
  private makeRoom(key: string, bytes: number): void {
    if (bytes > this.budget) {
      throw new MoxingError('UNAVAILABLE', `model ${quoteInput(key, 80)} needs ${formatBytes(bytes)}, more than the whole model memory budget (${formatBytes(this.budget)})`);
    }
    const idle = [...this.entries.values()].filter((e) => this.idle(e)).sort((a, b) => a.lastUsed - b.lastUsed);
    while (this.bytes + bytes > this.budget && idle.length > 0) void this.unload(idle.shift()!, 'memory');
    if (this.bytes + bytes > this.budget) {
      throw new MoxingError('BUSY', `the models in use fill the model memory budget (${formatBytes(this.budget)}); retry when they are done`);
    }
  }

  /** Drops `entry` at once (its bytes free, a new request loads it anew), then releases its model. */
  private unload(entry: Entry<M>, reason: 'ttl' | 'memory' | 'close'): Promise<void> {
    this.entries.delete(entry.key);
    const model = entry.model;
    entry.model = undefined;
    this.options.onUnload?.(entry.key, reason);
    return model === undefined ? Promise.resolve() : this.source.unload(model);
  }
}
