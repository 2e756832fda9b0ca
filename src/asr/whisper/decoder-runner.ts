/**
 * The DecoderRunner seam: search code asks for next-token logits and says which rows survive; the runner
 * owns the ONNX sessions and the KV cache (openai's `Inference`). Tests drive search through a scripted
 * runner; `WhisperDecoder.runner()` gives the real one, for both decoder layouts of the optimum export:
 *
 * - merged (`decoder_model_merged`): the first pass sets `use_cache_branch=false` with zero-length past
 *   tensors; later passes set it true. The with-past branch returns empty encoder presents, so the
 *   encoder (cross-attention) key/values of the first pass are kept for the whole decode.
 * - split (`decoder_model` for the first pass, `decoder_with_past_model` after it).
 *
 * Either cached graph may be loaded rewritten (decoder-rewrite.ts, told by its `cache_length` input): the runner
 * then keeps the self-attention KV in buffers of its own (runtime/kv-buffers.ts) and a step returns only its new
 * position. As exported, each step returns the whole cache and the runner keeps those tensors. A quantized
 * decoder's step may read its cross-attention keys as int8 (cross-keys.ts, told by its `key_uint8` inputs): the
 * runner then quantizes each first pass's keys with the decoder's `keyQuantizer`.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../../errors.js';
import { Tensor, bool, emptyFloat32, float32, int64 } from '../../runtime/index.js';
import { KvBuffers, keepRows } from '../../runtime/kv-buffers.js';
import type { WhisperDims } from './config.js';
import { int8KeyInputs } from './cross-keys.js';
import { CACHE_LENGTH, LOGITS_FROM } from './decoder-rewrite.js';
import type { AudioFeatures } from './encoder.js';
import { activeDecodeProfile } from './profile.js';

/** Logits of one forward pass, row-major [rows, vocab]; the caller owns them and may edit in place. */
export interface PrefillLogits {
  /** Logits at the last position of each row. */
  readonly last: Float32Array;
  /** Logits at `keepPosition` of each row, when asked (openai reads no-speech at the SOT position). */
  readonly kept: Float32Array | undefined;
}

export interface DecoderRunner {
  readonly vocabSize: number;
  /** Rows in the batch now. */
  readonly rows: number;
  /** First pass over each row's initial tokens (every row the same length). */
  prefill(tokens: readonly (readonly number[])[], keepPosition?: number): Promise<PrefillLogits>;
  /** Feeds one more token to each row; returns the logits of that position, [rows, vocab]. */
  step(tokens: readonly number[]): Promise<Float32Array>;
  /**
   * Keeps rows `sources` (indices into the current rows) in that order: repeats fan a row out (beams),
   * omissions drop finished rows (per-row end).
   */
  reorder(sources: readonly number[]): void;
  /** Done with this decode: its buffers may serve the next one. Optional; no step may follow. */
  release?(): void;
}

type Layout = 'merged' | 'split';

/** The decoder output `name` of a run; a decoder without it is not an optimum Whisper export. */
function outputOf(out: InferenceSession.OnnxValueMapType, name: string): Tensor {
  const value = out[name];
  if (!value) throw new MoxingError('MODEL_INVALID', `the decoder gave no output "${name}"; it is not an optimum Whisper decoder export`);
  return value as Tensor;
}

/** A tensor of `t`'s type and dims but its first, `rows`, over `data`. */
function withRows(t: Tensor, data: Float32Array | Uint8Array, rows: number): Tensor {
  const dims = [rows, ...t.dims.slice(1)];
  return data instanceof Uint8Array ? new Tensor('uint8', data, dims) : float32(data, dims);
}

/** Copies rows `sources` of a [rows, ...] float32 tensor into a new tensor. */
export function gatherRows(tensor: Tensor, sources: readonly number[]): Tensor {
  const data = tensor.data as Float32Array;
  const rows = tensor.dims[0];
  const size = rows === 0 ? 0 : data.length / rows;
  const out = new Float32Array(sources.length * size);
  sources.forEach((source, i) => out.set(data.subarray(source * size, (source + 1) * size), i * size));
  return float32(out, [sources.length, ...tensor.dims.slice(1)]);
}

/** How long a finished decode's cross-attention buffers wait for the next decode (batches and live turns come sooner). */
const SPARE_CROSS_MS = 10_000;

/**
 * Positions the self-attention buffers grow by when full: the rewritten attention reads the whole buffer
 * (capacity-attention.ts), so a small step keeps the unused room it reads small (a growth copies the cache once).
 */
const SELF_CACHE_GROWTH = 32;

function isIdentity(sources: readonly number[], rows: number): boolean {
  return sources.length === rows && sources.every((s, i) => s === i);
}

/** The decoder sessions of one Whisper export; stateless, so one instance serves every decode. */
export class WhisperDecoder {
  readonly layout: Layout;
  /** The cached graph was rewritten to keep the self-attention cache outside (decoder-rewrite.ts). */
  readonly cacheOutside: boolean;
  /** The first pass was rewritten to compute logits from a position on (decoder-rewrite.ts `logits_from`). */
  readonly logitsFrom: boolean;
  /** The cached step reads int8 cross-attention keys (cross-keys.ts), which `keyQuantizer` makes. */
  readonly int8Keys: boolean;
  private readonly layers: number;
  /** The cross-attention K/V buffers of the last decode, kept for the next (takeCrossBuffers). */
  private spareCross: Float32Array[] | undefined;
  private spareTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly dims: WhisperDims,
    /** `decoder_model_merged` (merged layout) or `decoder_model` (split layout). */
    readonly first: InferenceSession,
    /** `decoder_with_past_model`; absent for the merged layout. */
    readonly withPast?: InferenceSession,
    /** cross-keys.ts `crossKeyQuantizerModel`, for a step rewritten to read int8 keys. */
    readonly keyQuantizer?: InferenceSession,
  ) {
    this.layout = withPast ? 'split' : 'merged';
    this.cacheOutside = (withPast ?? first).inputNames.includes(CACHE_LENGTH);
    this.logitsFrom = first.inputNames.includes(LOGITS_FROM);
    this.int8Keys = (withPast ?? first).inputNames.includes(int8KeyInputs(0).keys);
    if (this.int8Keys && !keyQuantizer) throw new MoxingError('INTERNAL', 'a decoder that reads int8 cross-attention keys needs their quantizer');
    this.layers = dims.decoderLayers;
    const need = (session: InferenceSession, names: string[], what: string): void => {
      const missing = names.filter((n) => !session.inputNames.includes(n));
      if (missing.length > 0) {
        throw new MoxingError('MODEL_INVALID', `the ${what} has no input ${missing.join(', ')} (inputs: ${session.inputNames.join(', ')}); it is not an optimum Whisper decoder export with ${this.layers} layers`);
      }
    };
    const past = this.pastNames('encoder').concat(this.pastNames('decoder'));
    if (this.layout === 'merged') {
      need(first, ['input_ids', 'encoder_hidden_states', 'use_cache_branch', ...past], 'merged decoder (decoder_model_merged)');
    } else {
      need(first, ['input_ids', 'encoder_hidden_states'], 'decoder (decoder_model)');
      need(withPast as InferenceSession, ['input_ids', ...past], 'decoder with past (decoder_with_past_model)');
    }
  }

  /** `past_key_values.{i}.{kind}.{key,value}` for every layer. */
  pastNames(kind: 'decoder' | 'encoder'): string[] {
    const names: string[] = [];
    for (let i = 0; i < this.layers; i++) names.push(`past_key_values.${i}.${kind}.key`, `past_key_values.${i}.${kind}.value`);
    return names;
  }

  /**
   * The feeds of a first pass (no cache) over `tokens` (rows of equal length) on `hidden` [rows, frames, dModel],
   * its logits from position `logitsFrom` on when the graph was rewritten for it (else from 0).
   */
  firstPassFeeds(tokens: readonly (readonly number[])[], hidden: Tensor, logitsFrom = 0): Record<string, Tensor> {
    const rows = tokens.length;
    const feeds: Record<string, Tensor> = { input_ids: int64(tokens.flat(), [rows, tokens[0].length]), encoder_hidden_states: hidden };
    if (this.logitsFrom) feeds[LOGITS_FROM] = int64([logitsFrom], [1]);
    if (this.layout === 'merged') {
      feeds.use_cache_branch = bool([false], [1]);
      const { decoderHeads: heads, headDim } = this.dims;
      const empty = emptyFloat32([rows, heads, 0, headDim]);
      for (const name of [...this.pastNames('decoder'), ...this.pastNames('encoder')]) feeds[name] = empty;
      if (this.cacheOutside) feeds[CACHE_LENGTH] = int64([0], [1]);
      for (let i = 0; i < (this.int8Keys ? this.layers : 0); i++) {
        feeds[int8KeyInputs(i).keys] = new Tensor('uint8', new Uint8Array(0), [rows, heads, 0, headDim]);
        feeds[int8KeyInputs(i).scales] = emptyFloat32([rows, heads, 1, 0]);
      }
    }
    return feeds;
  }

  /**
   * A first pass's cross-attention K/V (`out`, one row) as the cached step reads them, by input name: as the pass
   * returned them, or with the keys quantized to int8 (and the keys' float32 inputs, which nothing reads then, empty).
   */
  async crossInputs(out: InferenceSession.OnnxValueMapType): Promise<Array<[string, Tensor]>> {
    const present = (past: string): Tensor => outputOf(out, past.replace('past_key_values.', 'present.'));
    const names = this.pastNames('encoder');
    if (!this.int8Keys || !this.keyQuantizer) return names.map((name) => [name, present(name)]);
    const keys: Record<string, Tensor> = {};
    for (let i = 0; i < this.layers; i++) keys[`key.${i}`] = present(names[2 * i]);
    const quantized = await this.keyQuantizer.run(keys);
    const inputs: Array<[string, Tensor]> = [];
    for (let i = 0; i < this.layers; i++) {
      const [key, value] = [names[2 * i], names[2 * i + 1]];
      const { keys: uint8, scales } = int8KeyInputs(i);
      inputs.push([uint8, quantized[`key_uint8.${i}`] as Tensor], [scales, quantized[`key_scale.${i}`] as Tensor], [value, present(value)]);
      inputs.push([key, emptyFloat32([1, this.dims.decoderHeads, 0, this.dims.headDim])]);
    }
    return inputs;
  }

  /**
   * `count` buffers of at least `size` floats for a decode's cross-attention K/V: the last decode's when they are
   * large enough (their pages already touched), else new ones.
   */
  takeCrossBuffers(count: number, size: number): Float32Array[] {
    const spare = this.spareCross;
    this.spareCross = undefined;
    clearTimeout(this.spareTimer);
    if (spare && spare.length === count && spare[0].length >= size) return spare.map((b) => b.subarray(0, size));
    return Array.from({ length: count }, () => new Float32Array(size));
  }

  /**
   * Keeps a finished decode's cross-attention buffers for the next one, for SPARE_CROSS_MS: a process that
   * stopped decoding gets the memory back (rows × 37 MB on base, 490 MB a row on large).
   */
  giveBackCrossBuffers(buffers: readonly Float32Array[]): void {
    const whole = buffers.map((b) => new Float32Array(b.buffer, 0, b.buffer.byteLength / 4));
    if (this.spareCross && this.spareCross[0].length >= whole[0].length) return;
    this.spareCross = whole;
    clearTimeout(this.spareTimer);
    this.spareTimer = setTimeout(() => (this.spareCross = undefined), SPARE_CROSS_MS).unref();
  }

  /** Lets the kept cross-attention buffers go now (the model is being unloaded). */
  dropSpareBuffers(): void {
    this.spareCross = undefined;
    clearTimeout(this.spareTimer);
  }

  /** A runner over `features`; row r of the batch decodes audio `rowAudio[r]` of the features. */
  runner(features: AudioFeatures, rowAudio: readonly number[]): DecoderRunner {
    return new OnnxDecoderRunner(this, features, rowAudio);
  }
}

class OnnxDecoderRunner implements DecoderRunner {
  readonly vocabSize: number;
  private rowAudio: number[];
  /** Decoder self-attention cache as the session returns it, per layer [key, value] of [rows, heads, length, headDim]. */
  private selfKV: Tensor[] = [];
  /** The same cache kept here, when the session was rewritten to take it in place (`decoder.cacheOutside`). */
  private selfCache: KvBuffers | undefined;
  /** Cross-attention inputs of the cached step (decoder.crossInputs), by name; row r holds audio `crossAudio[r]`. */
  private cross: Array<[string, Tensor]> = [];
  private crossAudio: number[] = [];
  /** The whole buffers behind the float32 K/V of `cross` (taken from the decoder's spare set, given back by `release`). */
  private crossBuffers: Float32Array[] = [];
  private started = false;
  private released = false;

  constructor(
    private readonly decoder: WhisperDecoder,
    private readonly features: AudioFeatures,
    rowAudio: readonly number[],
  ) {
    this.vocabSize = decoder.dims.vocabSize;
    this.rowAudio = [...rowAudio];
    for (const a of rowAudio) {
      if (!Number.isInteger(a) || a < 0 || a >= features.batch) throw new MoxingError('INTERNAL', `row audio index ${a} is outside the ${features.batch} encoded windows`);
    }
  }

  get rows(): number {
    return this.rowAudio.length;
  }

  async prefill(tokens: readonly (readonly number[])[], keepPosition?: number): Promise<PrefillLogits> {
    if (this.started) throw new MoxingError('INTERNAL', 'DecoderRunner.prefill called twice; create a new runner per decode');
    if (tokens.length !== this.rows) throw new MoxingError('INTERNAL', `prefill got ${tokens.length} rows for a runner of ${this.rows}`);
    const length = tokens[0].length;
    if (length === 0 || tokens.some((t) => t.length !== length)) throw new MoxingError('INTERNAL', 'prefill rows must be non-empty and of equal length');
    this.started = true;
    const rows = this.rows;
    const vocab = this.vocabSize;
    const [, frames, width] = this.features.tensor.dims;
    const hidden = this.features.tensor.data as Float32Array;
    const last = new Float32Array(rows * vocab);
    const kept = keepPosition === undefined ? undefined : new Float32Array(rows * vocab);
    let self: Float32Array[] = [];
    let cross: Array<[string, Float32Array | Uint8Array]> = [];
    let crossRow: Array<[string, Tensor]> = [];
    let pooled: Float32Array[] = [];
    const profile = activeDecodeProfile();
    const started = profile ? performance.now() : 0;
    // A row at a time, each row's cross-attention K/V (37 MB on base) copied into buffers kept from the last
    // decode: one pass over all rows held every row's outputs and intermediates at once, in pages never touched
    // before (a batched 10-minute run peaked at 1.76 GB against 1.44 GB so).
    // Only the last position's logits and the kept one's are read: a rewritten first pass computes no others.
    const from = this.decoder.logitsFrom ? Math.min(length - 1, keepPosition ?? length - 1) : 0;
    for (let r = 0; r < rows; r++) {
      const a = this.rowAudio[r];
      const row = float32(hidden.subarray(a * frames * width, (a + 1) * frames * width), [1, frames, width]);
      const out = await this.decoder.first.run(this.decoder.firstPassFeeds([tokens[r]], row, from));
      const selfRow = this.presents(out, 'decoder');
      crossRow = await this.decoder.crossInputs(out);
      if (r === 0) {
        self = selfRow.map((t) => new Float32Array(rows * t.data.length));
        // The float32 K/V (37 MB a row on base) in the kept buffers; int8 keys and their scales in new ones.
        const size = crossRow.reduce((most, [, t]) => Math.max(most, t.data.length), 0);
        const whole = crossRow.filter(([, t]) => t.type === 'float32' && t.data.length === size).length;
        pooled = this.decoder.takeCrossBuffers(whole, rows * size);
        let next = 0;
        const fresh = (t: Tensor) => (t.type === 'uint8' ? new Uint8Array(rows * t.data.length) : new Float32Array(rows * t.data.length));
        cross = crossRow.map(([name, t]) => [name, t.type === 'float32' && t.data.length === size ? pooled[next++] : fresh(t)]);
      }
      selfRow.forEach((t, i) => self[i].set(t.data as Float32Array, r * t.data.length));
      crossRow.forEach(([, t], i) => cross[i][1].set(t.data as Float32Array & Uint8Array, r * t.data.length));
      const logits = out.logits.data as Float32Array;
      const at = (position: number) => logits.subarray((position - from) * vocab, (position - from + 1) * vocab);
      last.set(at(length - 1), r * vocab);
      if (kept) kept.set(at(keepPosition as number), r * vocab);
    }
    if (profile) {
      profile.prefillMs += performance.now() - started;
      profile.prefills++;
      profile.prefillTokens += rows * length;
    }
    const { decoderHeads, headDim } = this.decoder.dims;
    this.cross = cross.map(([name, data], i) => [name, withRows(crossRow[i][1], data, rows)]);
    this.crossBuffers = pooled;
    this.crossAudio = [...this.rowAudio];
    const selfKV = self.map((data) => float32(data, [rows, decoderHeads, length, headDim]));
    if (this.decoder.cacheOutside) this.selfCache = KvBuffers.fromPresents(selfKV, this.decoder.dims.nTextCtx, SELF_CACHE_GROWTH);
    else this.selfKV = selfKV;
    return { last, kept };
  }

  /** Hands the cross-attention K/V buffers back for the next decode; the runner cannot step afterwards. */
  release(): void {
    if (this.crossBuffers.length > 0) this.decoder.giveBackCrossBuffers(this.crossBuffers);
    this.crossBuffers = [];
    this.cross = [];
    this.released = true;
  }

  async step(tokens: readonly number[]): Promise<Float32Array> {
    if (!this.started) throw new MoxingError('INTERNAL', 'DecoderRunner.step called before prefill');
    if (this.released) throw new MoxingError('INTERNAL', 'DecoderRunner.step called after release');
    if (tokens.length !== this.rows) throw new MoxingError('INTERNAL', `step got ${tokens.length} tokens for ${this.rows} rows`);
    const { dims } = this.decoder;
    const rows = this.rows;
    this.alignCross();
    const feeds: Record<string, Tensor> = { input_ids: int64(tokens, [rows, 1]) };
    const selfNames = this.decoder.pastNames('decoder');
    const cache = this.selfCache;
    if (cache) {
      cache.tensors.forEach((t, i) => (feeds[selfNames[i]] = t));
      feeds[CACHE_LENGTH] = int64([cache.length], [1]);
    } else selfNames.forEach((name, i) => (feeds[name] = this.selfKV[i]));
    for (const [name, tensor] of this.cross) feeds[name] = tensor;
    let session = this.decoder.withPast;
    if (this.decoder.layout === 'merged') {
      session = this.decoder.first;
      feeds.use_cache_branch = bool([true], [1]);
      // Read by the other branch only, but an input of the graph.
      if (this.decoder.logitsFrom) feeds[LOGITS_FROM] = int64([0], [1]);
      // Unused on the with-past branch, but a required input: an empty tensor costs nothing.
      feeds.encoder_hidden_states = emptyFloat32([rows, 0, dims.dModel]);
    }
    // Preallocated present outputs were measured and not kept: onnxruntime-node 1.30 fills them but still
    // returns a fresh copy of every output, so they add a copy instead of saving one (hence the rewrite).
    const fetches = ['logits', ...this.presentNames('decoder')];
    const profile = activeDecodeProfile();
    const started = profile ? performance.now() : 0;
    const out = await (session as InferenceSession).run(feeds, fetches);
    if (profile) profile.ortMs += performance.now() - started;
    // Rewritten: each present is the new position only, appended here.
    if (cache) cache.append(this.presents(out, 'decoder'));
    else this.selfKV = this.presents(out, 'decoder');
    return out.logits.data as Float32Array;
  }

  reorder(sources: readonly number[]): void {
    if (isIdentity(sources, this.rows)) return;
    for (const s of sources) {
      if (!Number.isInteger(s) || s < 0 || s >= this.rows) throw new MoxingError('INTERNAL', `reorder source ${s} is outside the ${this.rows} rows`);
    }
    if (this.selfCache) this.selfCache.gather(sources);
    else this.selfKV = this.selfKV.map((t) => gatherRows(t, sources));
    this.rowAudio = sources.map((s) => this.rowAudio[s]);
  }

  /**
   * Cross-attention K/V depend only on the audio, so after a reorder they need copying only when the
   * audio of some row changed (beams of one window never do; dropping finished rows of a batch does).
   */
  private alignCross(): void {
    const same = this.crossAudio.length === this.rowAudio.length && this.crossAudio.every((a, i) => a === this.rowAudio[i]);
    if (same) return;
    const sources = this.rowAudio.map((a) => this.crossAudio.indexOf(a));
    this.cross = this.cross.map(([name, t]) => {
      const data = t.data as Float32Array | Uint8Array;
      const size = t.dims[0] === 0 ? 0 : data.length / t.dims[0];
      return [name, withRows(t, keepRows(data, size, sources), sources.length)];
    });
    this.crossAudio = [...this.rowAudio];
  }

  private presentNames(kind: 'decoder' | 'encoder'): string[] {
    return this.decoder.pastNames(kind).map((n) => n.replace('past_key_values.', 'present.'));
  }

  private presents(out: InferenceSession.OnnxValueMapType, kind: 'decoder' | 'encoder'): Tensor[] {
    return this.presentNames(kind).map((name) => outputOf(out, name));
  }
}
