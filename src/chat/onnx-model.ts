/**
 * The ONNX Runtime engine of decoder-only language models in the onnx-community (transformers.js) layout:
 * `onnx/model{,_fp16,_quantized,_q4,_q4f16}.onnx` taking `input_ids`, `attention_mask`, `position_ids` and
 * `past_key_values.{i}.key/value` [batch, kv_heads, past, head_dim], optionally `num_logits_to_keep`, and giving
 * `logits` and `present.{i}.key/value`. The KV cache keeps the dtype the session declares for its past inputs,
 * so a float16 export's cache stays float16 from step to step without conversion. A graph rewritten to keep the
 * cache outside the session (its `cache_length` input; runtime/onnx/cache-outside.ts) gets the decoder's own
 * buffers (runtime/kv-buffers.ts) as its past inputs and returns only each step's new positions, which the
 * decoder appends there.
 *
 * Rows of a batch are left-padded: padded keys are masked, and positions count only real tokens
 * (`cumsum(attention_mask) - 1`, as transformers does), so each row decodes as it would alone.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { Tensor, int64 } from '../runtime/index.js';
import { KvBuffers, type KvType } from '../runtime/kv-buffers.js';
import { float16ToFloat32 } from '../runtime/float16.js';
import { CACHE_LENGTH } from '../runtime/onnx/cache-outside.js';

export type { KvType } from '../runtime/kv-buffers.js';

/**
 * The decoder's KV cache for some rows: two tensors per layer, [rows, kv_heads, length, head_dim] as an exported
 * graph returns them; or, when the decoder keeps the cache outside the session, its KvBuffers ([rows, kv_heads,
 * capacity, head_dim], the first `length` positions held), which a forward pass grows in place.
 */
export interface KvCache {
  readonly tensors: readonly Tensor[];
  readonly rows: number;
  readonly length: number;
}

/** What a generation loop needs from a model: next-token logits, one forward pass at a time. */
export interface DecoderState {
  readonly rows: number;
  readonly vocabSize: number;
  /** Tokens seen so far per row (the padding excluded). */
  readonly tokens: readonly (readonly number[])[];
  /** Prompt tokens whose KV a prefix cache supplied. */
  readonly reused?: number;
  /** Runs the prompts (once, first) and returns the logits after the last prompt token of each row, [rows, vocab]. */
  prefill(): Promise<Float32Array>;
  /** Feeds new tokens (the same count for every row) and returns the logits after the last of them, [rows, vocab]. */
  feed(tokens: readonly (readonly number[])[]): Promise<Float32Array>;
}

/**
 * Token embeddings for a decoder that takes `inputs_embeds` (the VLM layout): ids [rows, T] → [rows, T, hidden],
 * in the dtype the decoder declares. A prompt's embedder may overwrite rows (image features at the image token).
 */
export type TokenEmbedder = (ids: readonly (readonly number[])[]) => Promise<Tensor>;

export interface DecoderOptions {
  /** Embeds ids for a decoder whose input is `inputs_embeds` instead of `input_ids`. */
  embed?: TokenEmbedder;
  /**
   * A token whose KV depends on more than its id (the image token: its row is an image feature), so a prefix
   * cache is reused only up to its first occurrence.
   */
  prefixBarrier?: number;
}

export interface DecoderShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  /** The model's context (max_position_embeddings): the most positions the decoder's own cache buffers grow to. */
  readonly maxPositions?: number;
}

export class OnnxDecoder {
  readonly kvType: KvType;
  /** The graph was rewritten to keep the KV cache outside the session (graph-rewrite.ts `cacheOutside`). */
  readonly cacheOutside: boolean;
  private readonly keepLogitsInput: boolean;
  private readonly hasPositions: boolean;
  /** The decoder reads `inputs_embeds` (made by `options.embed`) rather than `input_ids`. */
  readonly takesEmbeddings: boolean;

  constructor(
    readonly session: InferenceSession,
    readonly shape: DecoderShape,
    /** Token id used for left padding. */
    readonly padId: number,
    readonly options: DecoderOptions = {},
  ) {
    const names = this.pastNames();
    this.takesEmbeddings = !session.inputNames.includes('input_ids') && session.inputNames.includes('inputs_embeds');
    if (this.takesEmbeddings && !options.embed) throw new MoxingError('MODEL_INVALID', 'the decoder takes inputs_embeds; load it with its embed_tokens model (the vision-language layout)');
    const missing = [this.takesEmbeddings ? 'inputs_embeds' : 'input_ids', 'attention_mask', ...names].filter((n) => !session.inputNames.includes(n));
    if (missing.length > 0) {
      throw new MoxingError('MODEL_INVALID', `the decoder has no input ${missing.slice(0, 4).join(', ')} (inputs: ${session.inputNames.slice(0, 8).join(', ')}…); it is not an onnx-community decoder-only export with ${shape.layers} layers`);
    }
    if (!session.outputNames.includes('logits')) throw new MoxingError('MODEL_INVALID', 'the decoder has no output "logits"');
    const meta = (session.inputMetadata ?? []).find((m) => m.name === names[0]);
    const declared = meta && meta.isTensor ? meta.type : 'float32';
    if (declared !== 'float32' && declared !== 'float16') throw new MoxingError('MODEL_INVALID', `the decoder's KV cache is ${declared}; float32 and float16 are supported`);
    this.kvType = declared;
    this.keepLogitsInput = session.inputNames.includes('num_logits_to_keep');
    this.hasPositions = session.inputNames.includes('position_ids');
    this.cacheOutside = session.inputNames.includes(CACHE_LENGTH);
  }

  /** `past_key_values.{i}.key`, `.value` for every layer. */
  pastNames(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.shape.layers; i++) out.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
    return out;
  }

  emptyCache(rows: number): KvCache {
    const { kvHeads, headDim } = this.shape;
    if (this.cacheOutside) return new KvBuffers(2 * this.shape.layers, { rows, heads: kvHeads, headDim, type: this.kvType, maxLength: this.shape.maxPositions ?? Infinity });
    const empty = this.kvType === 'float16' ? new Tensor('float16', new Uint16Array(0), [rows, kvHeads, 0, headDim]) : new Tensor('float32', new Float32Array(0), [rows, kvHeads, 0, headDim]);
    return { tensors: this.pastNames().map(() => empty), rows, length: 0 };
  }

  /**
   * One forward pass: `ids` [rows, T] after `cache`, with `mask` [rows, cache.length + T] and `positions`
   * [rows, T]. Returns the logits at the last position of each row and the grown cache (`cache` itself, grown in
   * place, when the decoder keeps it outside the session). `embed` replaces the decoder's own embedder for this
   * pass (a prompt with images).
   */
  async forward(ids: readonly (readonly number[])[], mask: readonly (readonly number[])[], positions: readonly (readonly number[])[], cache: KvCache, embed?: TokenEmbedder): Promise<{ logits: Float32Array; cache: KvCache }> {
    if (this.cacheOutside !== cache instanceof KvBuffers) throw new MoxingError('INTERNAL', 'a KV cache made by another decoder (start from emptyCache)');
    const rows = ids.length;
    const length = ids[0].length;
    const total = cache.length + length;
    const feeds: Record<string, Tensor> = { attention_mask: int64(mask.flat(), [rows, total]) };
    const embedder = embed ?? this.options.embed;
    if (this.takesEmbeddings && embedder) feeds.inputs_embeds = await embedder(ids);
    else feeds.input_ids = int64(ids.flat(), [rows, length]);
    if (this.hasPositions) feeds.position_ids = int64(positions.flat(), [rows, length]);
    if (this.keepLogitsInput) feeds.num_logits_to_keep = int64([1], []);
    this.pastNames().forEach((name, i) => (feeds[name] = cache.tensors[i]));
    if (cache instanceof KvBuffers) feeds[CACHE_LENGTH] = int64([cache.length], [1]);
    const out = await this.session.run(feeds);
    const logits = out.logits as Tensor;
    const vocab = logits.dims[2];
    const kept = logits.dims[1];
    if (logits.type !== 'float32' && logits.type !== 'float16') throw new MoxingError('MODEL_INVALID', `the decoder's logits are ${logits.type}; float32 and float16 are supported`);
    // float16 logits (fp16 exports) are widened, exactly, as transformers.js does before sampling.
    const data = logits.data as Float32Array | Uint16Array;
    const lastRow = (r: number) => data.subarray((r * kept + kept - 1) * vocab, (r * kept + kept) * vocab);
    let last: Float32Array;
    // One float32 position kept (the rewritten head, num_logits_to_keep): the output is the answer as it is, no copy.
    if (kept === 1 && data instanceof Float32Array) last = data;
    else {
      last = new Float32Array(rows * vocab);
      for (let r = 0; r < rows; r++) {
        const row = lastRow(r);
        if (row instanceof Uint16Array) float16ToFloat32(row, last.subarray(r * vocab, (r + 1) * vocab));
        else last.set(row, r * vocab);
      }
    }
    const tensors = this.pastNames().map((name) => {
      const present = out[name.replace('past_key_values.', 'present.')];
      if (!present) throw new MoxingError('MODEL_INVALID', `the decoder gave no output "${name.replace('past_key_values.', 'present.')}"`);
      return present as Tensor;
    });
    // Kept outside: the presents are the T new positions.
    if (cache instanceof KvBuffers) {
      cache.append(tensors);
      return { logits: last, cache };
    }
    return { logits: last, cache: { tensors, rows, length: total } };
  }

  /**
   * A decoding state over `prompts` (left-padded to one length), fed by the first `feed`. `promptEmbed` embeds
   * the prompt's tokens in place of the decoder's embedder (image features at the image tokens).
   */
  start(prompts: readonly (readonly number[])[], reuse?: PrefixCache, promptEmbed?: TokenEmbedder): OnnxDecoderState {
    return new OnnxDecoderState(this, prompts, reuse, promptEmbed);
  }
}

/**
 * The first `length` positions of a cache (a shared prefix to build on). The decoder's own buffers are copied, with
 * room for `more` positions: the state that builds on them appends in place, and the prefix stays as it was.
 */
export function truncateCache(cache: KvCache, length: number, more = 0): KvCache {
  if (cache instanceof KvBuffers) return cache.prefix(length, more);
  if (length === cache.length) return cache;
  const tensors = cache.tensors.map((t) => {
    const [rows, heads, old, dim] = t.dims;
    const Ctor = t.type === 'float16' ? Uint16Array : Float32Array;
    const src = t.data as Float32Array | Uint16Array;
    const out = new Ctor(rows * heads * length * dim);
    for (let block = 0; block < rows * heads; block++) out.set(src.subarray(block * old * dim, block * old * dim + length * dim), block * length * dim);
    return new Tensor(t.type as 'float32', out as Float32Array, [rows, heads, length, dim]);
  });
  return { tensors, rows: cache.rows, length };
}

/** One conversation's tokens and their cache, kept so the next request that extends them skips their prefill. */
export interface PrefixCache {
  readonly tokens: readonly number[];
  readonly cache: KvCache;
}

export class OnnxDecoderState implements DecoderState {
  readonly rows: number;
  readonly vocabSize: number;
  readonly tokens: number[][];
  private cache: KvCache;
  private mask: number[][];
  private nextPosition: number[];
  private prompts: number[][] | undefined;

  constructor(
    private readonly decoder: OnnxDecoder,
    prompts: readonly (readonly number[])[],
    private readonly reuse?: PrefixCache,
    private readonly promptEmbed?: TokenEmbedder,
  ) {
    if (prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new MoxingError('BAD_ARGUMENT', 'every prompt needs at least one token');
    this.rows = prompts.length;
    this.vocabSize = decoder.shape.vocabSize;
    this.tokens = prompts.map(() => []);
    this.cache = decoder.emptyCache(this.rows);
    this.mask = prompts.map(() => []);
    this.nextPosition = prompts.map(() => 0);
    this.prompts = prompts.map((p) => [...p]);
  }

  /** The whole state of a single row, to keep as a prefix cache for the next request. */
  snapshot(): PrefixCache {
    if (this.rows !== 1) throw new MoxingError('INTERNAL', 'only a single-row state can be kept as a prefix cache');
    return { tokens: [...this.tokens[0]], cache: this.cache };
  }

  /** Number of prompt tokens the prefix cache saved (0 when none was reused). */
  reused = 0;

  async prefill(): Promise<Float32Array> {
    const prompts = this.prompts;
    if (!prompts) throw new MoxingError('INTERNAL', 'prefill runs once per decoding state');
    this.prompts = undefined;
    if (this.rows === 1 && this.reuse) {
      const prompt = prompts[0];
      const shared = commonPrefix(this.reuse.tokens, prompt);
      // At least one token must be fed to get logits.
      const barrier = this.decoder.options.prefixBarrier;
      const before = (tokens: readonly number[]) => (barrier === undefined || !tokens.includes(barrier) ? Infinity : tokens.indexOf(barrier));
      const keep = Math.min(shared, prompt.length - 1, this.reuse.cache.length, before(this.reuse.tokens), before(prompt));
      if (keep > 0) {
        this.cache = truncateCache(this.reuse.cache, keep, prompt.length - keep);
        this.tokens[0] = prompt.slice(0, keep);
        this.mask[0] = new Array(keep).fill(1);
        this.nextPosition[0] = keep;
        this.reused = keep;
        return this.step([prompt.slice(keep)], this.promptEmbed);
      }
    }
    const width = Math.max(...prompts.map((p) => p.length));
    const padded = prompts.map((p) => [...new Array(width - p.length).fill(this.decoder.padId), ...p]);
    const mask = prompts.map((p) => [...new Array(width - p.length).fill(0), ...new Array(p.length).fill(1)]);
    const positions = mask.map((row) => {
      let seen = 0;
      return row.map((m) => (m === 1 ? seen++ : 1));
    });
    const { logits, cache } = await this.decoder.forward(padded, mask, positions, this.cache, this.promptEmbed);
    this.cache = cache;
    this.mask = mask;
    prompts.forEach((p, r) => {
      this.tokens[r].push(...p);
      this.nextPosition[r] = p.length;
    });
    return logits;
  }

  async feed(tokens: readonly (readonly number[])[]): Promise<Float32Array> {
    if (this.prompts) throw new MoxingError('INTERNAL', 'prefill first');
    return this.step(tokens);
  }

  private async step(tokens: readonly (readonly number[])[], embed?: TokenEmbedder): Promise<Float32Array> {
    if (tokens.length !== this.rows) throw new MoxingError('INTERNAL', `feed got ${tokens.length} rows for ${this.rows}`);
    const length = tokens[0].length;
    const positions = tokens.map((t, r) => t.map((_, i) => this.nextPosition[r] + i));
    const mask = this.mask.map((row) => [...row, ...new Array(length).fill(1)]);
    const { logits, cache } = await this.decoder.forward(tokens, mask, positions, this.cache, embed);
    this.cache = cache;
    this.mask = mask;
    tokens.forEach((t, r) => {
      this.tokens[r].push(...t);
      this.nextPosition[r] += t.length;
    });
    return logits;
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
