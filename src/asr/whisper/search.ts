/**
 * Token search over filtered logits, as openai/whisper `decoding.py`: GreedyDecoder (argmax at T=0,
 * categorical sampling at T>0), BeamSearchDecoder (beam_size, patience) and MaximumLikelihoodRanker
 * (length_penalty). Sums of log-probabilities are kept in float32, as openai's tensors are, so ties and
 * rankings fall the same way.
 *
 * A decoder owns the token rows of one decode: `live` lists the rows the DecoderRunner holds, in runner
 * order; `update` returns which of them survive (finished rows leave the batch: a per-row end).
 */

import { argmax, expNonPositive, logSumExp, rowMax, topK } from './logits.js';

const f32 = Math.fround;

/** Row-major [rows, vocab] logits: row `r` as a view. */
export function rowView(logits: Float32Array, vocab: number, row: number): Float32Array {
  return logits.subarray(row * vocab, (row + 1) * vocab);
}

/** A uniform [0, 1) source; seeded for reproducible sampling. */
export type Random = () => number;

/** mulberry32: a small, fast, seedable generator (sampling needs reproducibility, not cryptography). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws from softmax(row / temperature). */
export function sampleCategorical(row: Float32Array, temperature: number, random: Random): number {
  const max = rowMax(row);
  let total = 0;
  for (let i = 0; i < row.length; i++) total += expNonPositive((row[i] - max) / temperature);
  let target = random() * total;
  let lastPossible = 0;
  for (let i = 0; i < row.length; i++) {
    const p = expNonPositive((row[i] - max) / temperature);
    if (p > 0) lastPossible = i;
    target -= p;
    if (target < 0 && p > 0) return i;
  }
  return lastPossible; // rounding left a sliver of mass: take the last possible token
}

/**
 * The candidates of each audio: full sequences (initial tokens included), their summed log-probs, and the
 * log-prob of each sampled token that went into the sum (the EOT's too when it was sampled, not when it was
 * only appended at the length limit).
 */
export interface Candidates {
  readonly tokens: number[][][];
  readonly sumLogprobs: number[][];
  readonly tokenLogprobs: number[][][];
}

export interface UpdateResult {
  /** Runner rows to keep, in their new order (DecoderRunner.reorder); null when unchanged. */
  readonly sources: readonly number[] | null;
  /** True when no live row is left to decode. */
  readonly completed: boolean;
}

export interface TokenDecoder {
  /** Token rows the runner holds now, in runner order. */
  readonly live: readonly (readonly number[])[];
  /** Takes the filtered logits [live rows, vocab] and extends (or re-forms) the live rows. */
  update(logits: Float32Array): UpdateResult;
  /** Every audio's candidates once search stops (at EOT or at the length limit). */
  finalize(): Candidates;
}

/** openai GreedyDecoder: argmax at T=0, sampling at T>0; a row ends at EOT. Rows are [audio][group]. */
export class GreedyDecoder implements TokenDecoder {
  private readonly rows: number[][];
  private readonly sums: number[];
  private readonly logprobs: number[][];
  private liveRows: number[];

  constructor(
    initial: readonly (readonly number[])[],
    private readonly group: number,
    private readonly vocab: number,
    private readonly eot: number,
    private readonly temperature: number,
    private readonly random: Random = Math.random,
  ) {
    this.rows = initial.flatMap((t) => Array.from({ length: group }, () => [...t]));
    this.sums = this.rows.map(() => 0);
    this.logprobs = this.rows.map(() => []);
    this.liveRows = this.rows.map((_, i) => i);
  }

  get live(): readonly (readonly number[])[] {
    return this.liveRows.map((r) => this.rows[r]);
  }

  update(logits: Float32Array): UpdateResult {
    const keep: number[] = [];
    const next: number[] = [];
    this.liveRows.forEach((row, i) => {
      const view = rowView(logits, this.vocab, i);
      const token = this.temperature === 0 ? argmax(view) : sampleCategorical(view, this.temperature, this.random);
      const lse = logSumExp(view, this.temperature === 0 ? view[token] : undefined);
      const logprob = f32(view[token] - lse);
      this.sums[row] = f32(this.sums[row] + logprob);
      this.logprobs[row].push(logprob);
      this.rows[row].push(token);
      if (token !== this.eot) {
        keep.push(i);
        next.push(row);
      }
    });
    const changed = next.length !== this.liveRows.length;
    this.liveRows = next;
    return { sources: changed ? keep : null, completed: next.length === 0 };
  }

  finalize(): Candidates {
    const tokens: number[][][] = [];
    const sumLogprobs: number[][] = [];
    const tokenLogprobs: number[][][] = [];
    for (let r = 0; r < this.rows.length; r += this.group) {
      // Every sequence ends with at least one EOT (openai pads one).
      tokens.push(this.rows.slice(r, r + this.group).map((t) => (t[t.length - 1] === this.eot ? t : [...t, this.eot])));
      sumLogprobs.push(this.sums.slice(r, r + this.group));
      tokenLogprobs.push(this.logprobs.slice(r, r + this.group));
    }
    return { tokens, sumLogprobs, tokenLogprobs };
  }
}

interface Beam {
  tokens: number[];
  sum: number;
  /** Each sampled token's log-prob, in order. */
  logprobs: number[];
}

/**
 * openai BeamSearchDecoder. Each audio keeps `beamSize` unfinished beams; a candidate ending in EOT joins
 * the audio's finished list, and an audio is done once that list holds round(beamSize * patience).
 * A done audio's beams leave the batch, which changes nothing when that count is at least beamSize.
 */
export class BeamSearchDecoder implements TokenDecoder {
  private readonly beams: Beam[][];
  private readonly finished: Map<string, Beam>[];
  private readonly maxCandidates: number;
  /** Audios still searching, in runner order (each holds beamSize rows). */
  private liveAudios: number[];

  constructor(
    initial: readonly (readonly number[])[],
    private readonly beamSize: number,
    private readonly vocab: number,
    private readonly eot: number,
    patience = 1,
  ) {
    this.maxCandidates = Math.round(beamSize * patience);
    if (!(beamSize >= 1 && this.maxCandidates > 0)) throw new RangeError(`invalid beam size (${beamSize}) or patience (${patience})`);
    this.beams = initial.map((t) => Array.from({ length: beamSize }, () => ({ tokens: [...t], sum: 0, logprobs: [] })));
    this.finished = initial.map(() => new Map());
    this.liveAudios = initial.map((_, i) => i);
  }

  get live(): readonly (readonly number[])[] {
    return this.liveAudios.flatMap((a) => this.beams[a].map((b) => b.tokens));
  }

  update(logits: Float32Array): UpdateResult {
    const sources: number[] = [];
    const stillLive: number[] = [];
    this.liveAudios.forEach((audio, slot) => {
      // STEP 1: every beam's top beamSize+1 continuations; equal sequences (identical first beams) merge.
      const scores = new Map<string, Beam & { source: number }>();
      this.beams[audio].forEach((beam, j) => {
        const row = slot * this.beamSize + j;
        const view = rowView(logits, this.vocab, row);
        const lse = logSumExp(view);
        for (const token of topK(view, this.beamSize + 1)) {
          const tokens = [...beam.tokens, token];
          const logprob = f32(view[token] - lse);
          scores.set(tokens.join(','), { tokens, sum: f32(beam.sum + logprob), logprobs: [...beam.logprobs, logprob], source: row });
        }
      });
      // STEP 2: keep the best beamSize unfinished candidates; stable sort keeps insertion order on ties.
      const ranked = [...scores.entries()].sort((a, b) => b[1].sum - a[1].sum);
      const kept: Beam[] = [];
      const newlyFinished: [string, Beam][] = [];
      for (const [key, candidate] of ranked) {
        if (candidate.tokens[candidate.tokens.length - 1] === this.eot) {
          newlyFinished.push([key, candidate]);
        } else {
          kept.push({ tokens: candidate.tokens, sum: candidate.sum, logprobs: candidate.logprobs });
          sources.push(candidate.source);
          if (kept.length === this.beamSize) break;
        }
      }
      this.beams[audio] = kept;
      const done = this.finished[audio];
      for (const [key, candidate] of newlyFinished) {
        if (done.size >= this.maxCandidates) break;
        done.set(key, { tokens: candidate.tokens, sum: candidate.sum, logprobs: candidate.logprobs });
      }
      stillLive.push(audio);
    });
    const completed = this.liveAudios.every((a) => this.finished[a].size >= this.maxCandidates);
    // Dropping a done audio is exact only when finalize will not need its unfinished beams.
    if (!completed && this.maxCandidates >= this.beamSize) {
      const keepSources: number[] = [];
      const keepAudios: number[] = [];
      stillLive.forEach((audio, slot) => {
        if (this.finished[audio].size >= this.maxCandidates) return;
        keepAudios.push(audio);
        keepSources.push(...sources.slice(slot * this.beamSize, (slot + 1) * this.beamSize));
      });
      this.liveAudios = keepAudios;
      return { sources: keepSources, completed };
    }
    return { sources, completed };
  }

  finalize(): Candidates {
    const tokens: number[][][] = [];
    const sumLogprobs: number[][] = [];
    const tokenLogprobs: number[][][] = [];
    this.finished.forEach((done, audio) => {
      if (done.size < this.beamSize) {
        // Not enough finished: add the unfinished beams, best first, closed with EOT.
        const order = this.beams[audio].map((_, j) => j).sort((a, b) => this.beams[audio][b].sum - this.beams[audio][a].sum);
        for (const j of order) {
          const beam = this.beams[audio][j];
          const sequence = [...beam.tokens, this.eot];
          done.set(sequence.join(','), { tokens: sequence, sum: beam.sum, logprobs: beam.logprobs });
          if (done.size >= this.beamSize) break;
        }
      }
      tokens.push([...done.values()].map((c) => c.tokens));
      sumLogprobs.push([...done.values()].map((c) => c.sum));
      tokenLogprobs.push([...done.values()].map((c) => c.logprobs));
    });
    return { tokens, sumLogprobs, tokenLogprobs };
  }
}

/**
 * openai MaximumLikelihoodRanker: the candidate with the best sum of log-probabilities over a length
 * penalty: the length itself when `lengthPenalty` is undefined, else ((5 + length) / 6) ** lengthPenalty.
 * @param tokens each audio's candidates, sampled tokens only (no initial tokens, no EOT)
 */
export function rankCandidates(tokens: readonly (readonly (readonly number[])[])[], sumLogprobs: readonly (readonly number[])[], lengthPenalty: number | undefined): number[] {
  return tokens.map((candidates, audio) => {
    // np.argmax: the first maximum, and a NaN (0 / 0 for an empty candidate) beats everything.
    let best = 0;
    for (let i = 0; i < candidates.length; i++) {
      const length = candidates[i].length;
      const penalty = lengthPenalty === undefined ? length : ((5 + length) / 6) ** lengthPenalty;
      const score = sumLogprobs[audio][i] / penalty;
      if (Number.isNaN(score)) return i;
      const bestLength = candidates[best].length;
      const bestScore = sumLogprobs[audio][best] / (lengthPenalty === undefined ? bestLength : ((5 + bestLength) / 6) ** lengthPenalty);
      if (score > bestScore) best = i;
    }
    return best;
  });
}
