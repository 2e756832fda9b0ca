/**
 * Next-token choice on the ONNX engine, in transformers' order: logit bias, repetition penalty (over every
 * token seen, prompt included), OpenAI's presence and frequency penalties (over the generated tokens), the
 * constraint mask, then greedy argmax at temperature 0, else temperature, top-k, top-p and min-p and a draw from
 * a seeded generator, so the same seed gives the same tokens on every run.
 */
import { randomInt } from 'node:crypto';
import { MoxingError } from '../errors.js';

export interface SamplingOptions {
  /** 0 is greedy. @default 1 */
  temperature?: number;
  /** Keep the k most likely tokens; 0 keeps all. @default 0 */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p. @default 1 */
  topP?: number;
  /** Drop tokens less likely than minP × the most likely one. @default 0 */
  minP?: number;
  /** transformers' repetition penalty (>1 discourages tokens already seen). @default 1 */
  repetitionPenalty?: number;
  /** OpenAI's presence penalty, -2 … 2. @default 0 */
  presencePenalty?: number;
  /** OpenAI's frequency penalty, -2 … 2. @default 0 */
  frequencyPenalty?: number;
  /** Added to the logits of token ids (-100 bans, 100 forces). @default {} */
  logitBias?: Readonly<Record<number, number>>;
  /** Seed of the sampler: the same seed, model and options give the same tokens. @default random */
  seed?: number;
}

export const DEFAULT_SAMPLING = Object.freeze({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
});

export function checkSampling(options: SamplingOptions): void {
  const range = (name: keyof SamplingOptions, min: number, max: number) => {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)) {
      throw new MoxingError('BAD_ARGUMENT', `${name} must be a number from ${min} to ${max}, got ${String(value)}`);
    }
  };
  range('temperature', 0, 100);
  range('topP', 0, 1);
  range('minP', 0, 1);
  range('repetitionPenalty', 0.01, 100);
  range('presencePenalty', -2, 2);
  range('frequencyPenalty', -2, 2);
  if (options.topK !== undefined && (!Number.isInteger(options.topK) || options.topK < 0)) throw new MoxingError('BAD_ARGUMENT', `topK must be a whole number ≥ 0, got ${options.topK}`);
  if (options.seed !== undefined && !Number.isSafeInteger(options.seed)) throw new MoxingError('BAD_ARGUMENT', `seed must be a whole number, got ${options.seed}`);
  for (const [id, bias] of Object.entries(options.logitBias ?? {})) {
    if (!/^\d+$/.test(id) || typeof bias !== 'number' || !Number.isFinite(bias) || bias < -100 || bias > 100) {
      throw new MoxingError('BAD_ARGUMENT', `logitBias maps token ids to numbers from -100 to 100, got ${id}: ${String(bias)}`);
    }
  }
}

/** mulberry32: small, fast and seedable; 2^32 states are plenty for choosing tokens. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    // Fold a 53-bit seed into 32 bits so large seeds still differ.
    this.state = (seed ^ Math.floor(seed / 4294967296)) >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export class Sampler {
  private readonly options: Required<Omit<SamplingOptions, 'logitBias' | 'seed'>>;
  private readonly bias: Array<[number, number]>;
  private readonly random: SeededRandom;

  constructor(options: SamplingOptions = {}) {
    checkSampling(options);
    this.options = { ...DEFAULT_SAMPLING, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof this.options;
    this.bias = Object.entries(options.logitBias ?? {}).map(([id, b]) => [Number(id), b]);
    this.random = new SeededRandom(options.seed ?? randomInt(0, 2 ** 47));
  }

  get greedy(): boolean {
    return this.options.temperature === 0;
  }

  /**
   * Applies bias and penalties to `logits` in place. `seen` is every token of the row so far (prompt included),
   * `generated` the tokens this completion produced.
   */
  process(logits: Float32Array, seen: readonly number[], generated: readonly number[]): void {
    for (const [id, b] of this.bias) if (id < logits.length) logits[id] += b;
    const { repetitionPenalty: rep, presencePenalty: presence, frequencyPenalty: frequency } = this.options;
    if (rep !== 1) {
      for (const id of new Set(seen)) logits[id] = logits[id] > 0 ? logits[id] / rep : logits[id] * rep;
    }
    if (presence !== 0 || frequency !== 0) {
      const counts = new Map<number, number>();
      for (const id of generated) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const [id, count] of counts) logits[id] -= count * frequency + presence;
    }
  }

  /** Chooses a token from processed logits (disallowed tokens at -Infinity). */
  choose(logits: Float32Array): number {
    if (this.greedy) return argmax(logits);
    const { temperature, topK, topP, minP } = this.options;
    const max = logits[argmax(logits)];
    if (max === -Infinity) throw new MoxingError('INTERNAL', 'every token is masked');
    // Tokens more than 40 nats below the best have probability < 4e-18 of it: leaving them out changes nothing.
    const floor = max - 40 * temperature;
    let candidates: number[] = [];
    for (let i = 0; i < logits.length; i++) if (logits[i] >= floor) candidates.push(i);
    candidates.sort((a, b) => logits[b] - logits[a] || a - b);
    if (topK > 0 && candidates.length > topK) candidates = candidates.slice(0, topK);
    const weights = candidates.map((i) => Math.exp((logits[i] - max) / temperature));
    let total = weights.reduce((a, b) => a + b, 0);
    let keep = candidates.length;
    if (minP > 0) {
      // weights[0] is the most likely token's, relative to max.
      while (keep > 1 && weights[keep - 1] < minP * weights[0]) keep--;
    }
    if (topP < 1) {
      let sum = 0;
      for (let i = 0; i < keep; i++) {
        sum += weights[i] / total;
        if (sum >= topP) {
          keep = i + 1;
          break;
        }
      }
    }
    total = 0;
    for (let i = 0; i < keep; i++) total += weights[i];
    let draw = this.random.next() * total;
    for (let i = 0; i < keep; i++) {
      draw -= weights[i];
      if (draw < 0) return candidates[i];
    }
    return candidates[keep - 1];
  }
}

export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** log softmax of one row, and the `top` most likely ids with their log-probabilities. */
export function logSoftmaxTop(logits: Float32Array, token: number, top: number): { logprob: number; top: Array<{ token: number; logprob: number }> } {
  const max = logits[argmax(logits)];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const norm = max + Math.log(sum);
  const best: number[] = [];
  if (top > 0) {
    for (let i = 0; i < logits.length; i++) {
      if (best.length < top || logits[i] > logits[best[best.length - 1]]) {
        best.push(i);
        best.sort((a, b) => logits[b] - logits[a] || a - b);
        if (best.length > top) best.pop();
      }
    }
  }
  return { logprob: logits[token] - norm, top: best.map((id) => ({ token: id, logprob: logits[id] - norm })) };
}
