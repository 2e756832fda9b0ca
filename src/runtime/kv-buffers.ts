/**
 * A decoder's KV cache kept in buffers of the caller's own, for a session rewritten to take it in place
 * (runtime/onnx/cache-outside.ts): the Whisper decoder's self-attention cache and the chat decoder's cache.
 */
import { MoxingError } from '../errors.js';
import { Tensor } from './tensor.js';

export type KvType = 'float32' | 'float16';
/** A float32 cache's values, or a float16 cache's bits. */
type KvArray = Float32Array | Uint16Array;

/** Each source row at most once, in order: rows can be kept by moving them down in place. */
function isDropOnly(sources: readonly number[]): boolean {
  return sources.every((s, i) => i === 0 || s > sources[i - 1]);
}

/**
 * Rows `sources` of the [rows, ...] `data` (`size` values a row), first in the same memory when only dropping
 * (the tail is left as it was), else in a new array. Batched decoding drops each finished row: a new copy of a
 * large cache each time also touched as many new pages.
 */
export function keepRows<T extends KvArray | Uint8Array>(data: T, size: number, sources: readonly number[]): T {
  if (!isDropOnly(sources)) {
    const out = new (data.constructor as new (length: number) => T)(sources.length * size);
    sources.forEach((source, i) => out.set(data.subarray(source * size, (source + 1) * size), i * size));
    return out;
  }
  sources.forEach((source, i) => {
    if (source !== i) data.copyWithin(i * size, source * size, (source + 1) * size);
  });
  return data.subarray(0, sources.length * size) as T;
}

export interface KvLayout {
  readonly rows: number;
  /** Heads of the cache (the KV heads under grouped-query attention). */
  readonly heads: number;
  readonly headDim: number;
  readonly type: KvType;
  /** Most positions the cache may hold (the model's context): capacity grows up to it. */
  readonly maxLength: number;
  /**
   * Positions added each time the cache is full; doubling when absent. A decoder whose attention reads the whole
   * buffer (runtime/onnx/capacity-attention.ts) reads the unused room too, so it grows by a few positions at a time.
   */
  readonly growBy?: number;
}

/**
 * Key and value buffers per layer, [rows, heads, capacity, headDim], whose first `length` positions hold the
 * cache. A step reads them in place (the session slices the first `length`) and returns only its new positions,
 * written here by `append`. The capacity doubles when full (up to `maxLength`): a few copies per decode instead
 * of the whole cache copied out of the session at every step.
 */
export class KvBuffers {
  length = 0;
  private capacity = 0;
  private rowCount: number;
  private buffers: KvArray[];
  private feeds: Tensor[] | undefined;

  /** `count` empty buffers (two per layer) of `layout`. */
  constructor(
    count: number,
    private readonly layout: KvLayout,
  ) {
    this.rowCount = layout.rows;
    this.buffers = Array.from({ length: count }, () => this.allocate(0));
  }

  /** Buffers holding `presents` [rows, heads, length, headDim] (a first pass's whole cache). */
  static fromPresents(presents: readonly Tensor[], maxLength: number, growBy?: number): KvBuffers {
    const [rows, heads, , headDim] = presents[0].dims;
    const type = presents[0].type;
    if (type !== 'float32' && type !== 'float16') throw new MoxingError('MODEL_INVALID', `the decoder's KV cache is ${type}; float32 and float16 are supported`);
    const buffers = new KvBuffers(presents.length, { rows, heads, headDim, type, maxLength, growBy });
    buffers.append(presents);
    return buffers;
  }

  get rows(): number {
    return this.rowCount;
  }

  /** The buffers as the past inputs of a step: [rows, heads, capacity, headDim]. */
  get tensors(): readonly Tensor[] {
    const { heads, headDim, type } = this.layout;
    this.feeds ??= this.buffers.map((b) => new Tensor(type, b, [this.rowCount, heads, this.capacity, headDim]));
    return this.feeds;
  }

  /** Writes a step's new positions, [rows, heads, T, headDim] per buffer, at `length`, and counts them. */
  append(added: readonly Tensor[]): void {
    if (added.length !== this.buffers.length) throw new MoxingError('INTERNAL', `${added.length} new K/V tensors for ${this.buffers.length} buffers`);
    const steps = added[0].dims[2];
    this.reserve(this.length + steps);
    const { heads, headDim, type } = this.layout;
    const blocks = this.rowCount * heads;
    const span = steps * headDim;
    added.forEach((t, i) => {
      const from = t.data as KvArray;
      if (t.type !== type || from.length !== blocks * span) {
        throw new MoxingError('MODEL_INVALID', `a rewritten decoder step returned ${from.length} ${t.type} values of K/V, not ${blocks * span} ${type} ([${this.rowCount}, ${heads}, ${steps}, ${headDim}])`);
      }
      const to = this.buffers[i];
      for (let b = 0; b < blocks; b++) to.set(from.subarray(b * span, (b + 1) * span), (b * this.capacity + this.length) * headDim);
    });
    this.length += steps;
  }

  /** Keeps rows `sources` in that order (a beam fan-out, finished rows dropped). */
  gather(sources: readonly number[]): void {
    const size = this.layout.heads * this.capacity * this.layout.headDim;
    this.buffers = this.buffers.map((b) => keepRows(b, size, sources));
    this.rowCount = sources.length;
    this.feeds = undefined;
  }

  /** New buffers holding a copy of the first `length` positions (a shared prefix to build on), with room for `more`. */
  prefix(length: number, more = 0): KvBuffers {
    if (length > this.length) throw new MoxingError('INTERNAL', `a prefix of ${length} positions of a cache of ${this.length}`);
    const copy = new KvBuffers(this.buffers.length, { ...this.layout, rows: this.rowCount });
    copy.reserve(length + more);
    copy.buffers = this.buffers.map((b, i) => this.copyInto(copy.buffers[i], b, this.capacity, length, copy.capacity));
    copy.length = length;
    return copy;
  }

  /**
   * Room for `needed` positions: twice that (at least 64), or the next multiple of `growBy`, at most the layout's
   * maxLength, so growing is rare.
   */
  private reserve(needed: number): void {
    if (needed <= this.capacity) return;
    const { maxLength, growBy } = this.layout;
    if (needed > maxLength) throw new MoxingError('INTERNAL', `the decoder's KV cache is full at ${maxLength} positions (the model's context)`);
    const wanted = growBy ? Math.ceil(needed / growBy) * growBy : Math.max(64, 2 * needed);
    const capacity = Math.max(needed, Math.min(maxLength, wanted));
    this.buffers = this.buffers.map((b) => this.copyInto(this.allocate(capacity), b, this.capacity, this.length, capacity));
    this.capacity = capacity;
    this.feeds = undefined;
  }

  private allocate(capacity: number): KvArray {
    const size = this.rowCount * this.layout.heads * capacity * this.layout.headDim;
    return this.layout.type === 'float16' ? new Uint16Array(size) : new Float32Array(size);
  }

  /** Copies the first `length` positions of each [row, head] block of `from` (blocks of `fromCapacity` positions) into `to`. */
  private copyInto(to: KvArray, from: KvArray, fromCapacity: number, length: number, toCapacity: number): KvArray {
    const { headDim } = this.layout;
    if (length === 0) return to;
    for (let b = 0; b < this.rowCount * this.layout.heads; b++) {
      to.set(from.subarray(b * fromCapacity * headDim, (b * fromCapacity + length) * headDim), b * toCapacity * headDim);
    }
    return to;
  }
}
