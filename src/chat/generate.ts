/**
 * The generation loop of the ONNX engine: prefill, then one token per row per step, chosen by the Sampler under
 * an optional constraint, until end-of-sequence, a stop string or max tokens. Text is streamed as it becomes
 * final: an incomplete UTF-8 character and any tail that could still grow into a stop string are held back, so a
 * stop string that spans tokens never shows up in the stream.
 */
import { MoxingError } from '../errors.js';
import type { TokenConstraint } from './constraint.js';
import type { DecoderState } from './onnx-model.js';
import { Sampler, logSoftmaxTop, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate. @default 256 */
  maxTokens?: number;
  /** Strings that end the output (not included in it); they may span tokens. @default [] */
  stop?: readonly string[];
  /** Return each token's log-probability. @default false */
  logprobs?: boolean;
  /** With logprobs, the most likely alternatives per position, 0 … 20. @default 0 */
  topLogprobs?: number;
  /** Stops the generation (the run rejects with the signal's reason). */
  signal?: AbortSignal;
}

export const DEFAULT_GENERATE = Object.freeze({ maxTokens: 256, topLogprobs: 0 });

export type FinishReason = 'stop' | 'length';

export interface TokenLogprob {
  token: number;
  text: string;
  logprob: number;
  top: Array<{ token: number; text: string; logprob: number }>;
}

export interface Completion {
  /** Generated token ids (end-of-sequence excluded; tokens after a stop string included). */
  tokens: number[];
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  /** Prompt tokens whose KV came from the prefix cache. */
  cachedTokens: number;
  logprobs?: TokenLogprob[];
  timings: { prefillMs: number; decodeMs: number };
}

/** A piece of text that became final, for row `row`. */
export interface Delta {
  row: number;
  text: string;
  tokens: number[];
}

export interface TextCodec {
  decode(ids: readonly number[]): string;
}

/** One output's text as tokens arrive: stop strings, finish reason, and the part that is final. */
export class TextTracker {
  readonly tokens: number[] = [];
  text = '';
  emitted = 0;
  finish: FinishReason | undefined;
  logprobs: TokenLogprob[] = [];
  pending: number[] = [];

  constructor(
    private readonly codec: TextCodec,
    private readonly stops: readonly string[],
    private readonly holdBack: (text: string) => number,
  ) {}

  push(token: number, maxTokens: number): void {
    this.tokens.push(token);
    this.pending.push(token);
    const before = this.text.length;
    this.text = this.codec.decode(this.tokens);
    const longest = Math.max(0, ...this.stops.map((s) => s.length));
    const from = Math.max(0, before - longest);
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.text.indexOf(stop, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.text = this.text.slice(0, cut);
      this.finish = 'stop';
    } else if (this.tokens.length >= maxTokens) this.finish = 'length';
  }

  /** Text that can no longer change. */
  take(): Delta['text'] {
    let end = this.text.length;
    // Held-back text (a tool call in the making) stays with the caller even at the end.
    end -= this.holdBack(this.text.slice(this.emitted, end));
    if (this.finish === undefined) {
      while (end > this.emitted && this.text.charCodeAt(end - 1) === 0xfffd) end--;
      for (const stop of this.stops) {
        for (let n = Math.min(stop.length - 1, end - this.emitted); n > 0; n--) {
          if (this.text.endsWith(stop.slice(0, n), end)) {
            end -= n;
            break;
          }
        }
      }
    }
    if (end <= this.emitted) return '';
    const out = this.text.slice(this.emitted, end);
    this.emitted = end;
    return out;
  }
}

export interface LoopOptions extends GenerateOptions {
  eosIds: readonly number[];
  /** One constraint per row (or none). */
  constraints?: ReadonlyArray<TokenConstraint | undefined>;
  /** Characters at the end of not-yet-final text to hold back (e.g. a tool-call opening). @default none */
  holdBack?: (text: string) => number;
  /** Token text for logprobs. */
  tokenText?: (id: number) => string;
}

/** Runs the loop over `state`, yielding final text as it comes; returns one Completion per row. */
export async function* decodeLoop(state: DecoderState, codec: TextCodec, options: LoopOptions): AsyncGenerator<Delta, Completion[]> {
  const maxTokens = options.maxTokens ?? DEFAULT_GENERATE.maxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new MoxingError('BAD_ARGUMENT', `maxTokens must be a whole number ≥ 1, got ${maxTokens}`);
  const top = options.topLogprobs ?? DEFAULT_GENERATE.topLogprobs;
  if (!Number.isInteger(top) || top < 0 || top > 20) throw new MoxingError('BAD_ARGUMENT', `topLogprobs must be a whole number from 0 to 20, got ${top}`);
  const stops = (options.stop ?? []).filter((s) => s.length > 0);
  const sampler = new Sampler(options);
  const eos = new Set(options.eosIds);
  const rows = Array.from({ length: state.rows }, () => new TextTracker(codec, stops, options.holdBack ?? (() => 0)));
  const vocab = state.vocabSize;
  const tokenText = options.tokenText ?? ((id: number) => codec.decode([id]));
  const started = performance.now();
  // One scratch copy of a row's logits (and one for a constraint's mask) for the whole loop: a new vocabulary-sized
  // array at every step (600 KB at a 151,936-token vocabulary) piled up until the collector ran, tens of megabytes
  // of the process's peak memory over a generation.
  const scratch = new Float32Array(vocab);
  let maskScratch: Float32Array | undefined;
  let logits = await state.prefill();
  const prefillMs = performance.now() - started;
  const promptLengths = state.tokens.map((t) => t.length);

  for (;;) {
    options.signal?.throwIfAborted();
    const next: number[] = [];
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      if (row.finish !== undefined) {
        next.push(options.eosIds[0] ?? 0);
        continue;
      }
      const raw = logits.subarray(r * vocab, (r + 1) * vocab);
      const work = raw.length === vocab ? scratch : new Float32Array(raw.length);
      work.set(raw);
      sampler.process(work, state.tokens[r], row.tokens);
      const constraint = options.constraints?.[r];
      if (constraint) {
        const mask = constraint.mask();
        const masked = (maskScratch ??= new Float32Array(vocab)).fill(-Infinity);
        for (const id of mask.ids) masked[id] = work[id];
        if (mask.end) for (const id of eos) masked[id] = mask.ids.length === 0 ? 0 : work[id];
        work.set(masked);
      }
      const token = sampler.choose(work);
      if (options.logprobs) {
        const lp = logSoftmaxTop(raw, token, top);
        row.logprobs.push({ token, text: tokenText(token), logprob: lp.logprob, top: lp.top.map((t) => ({ ...t, text: tokenText(t.token) })) });
      }
      if (eos.has(token)) {
        row.finish = 'stop';
      } else {
        constraint?.accept(token);
        row.push(token, maxTokens);
      }
      next.push(token);
      const text = row.take();
      if (text.length > 0 || row.pending.length > 0) {
        yield { row: r, text, tokens: row.pending };
        row.pending = [];
      }
    }
    if (rows.every((row) => row.finish !== undefined)) break;
    logits = await state.feed(next.map((t) => [t]));
  }
  const decodeMs = performance.now() - started - prefillMs;
  return rows.map((row, r) => ({
    tokens: row.tokens,
    text: row.text,
    finishReason: row.finish as FinishReason,
    promptTokens: promptLengths[r],
    cachedTokens: state.reused ?? 0,
    ...(options.logprobs ? { logprobs: row.logprobs } : {}),
    timings: { prefillMs, decodeMs },
  }));
}
