/**
 * DINO's weighted k-nearest-neighbour classifier (facebookresearch/dino eval_knn.py): the k most cosine-
 * similar training features vote for their class with weight exp(similarity / T).
 */
import { MoxingError } from '../errors.js';
import { l2Normalize } from './features.js';

export interface KnnOptions {
  /** Neighbours that vote. @default 20 (DINO's reported setting) */
  k: number;
  /** Temperature of the vote weights exp(sim / T). @default 0.07 */
  temperature: number;
}

export const DEFAULT_KNN: Readonly<KnnOptions> = Object.freeze({ k: 20, temperature: 0.07 });

/** Training features with their class names. */
export interface LabeledVectors {
  readonly vectors: readonly Float32Array[];
  readonly labels: readonly string[];
}

/** A class decision with every class's share of the evidence (sums to 1), best first. */
export interface Prediction {
  readonly label: string;
  readonly scores: readonly { readonly label: string; readonly score: number }[];
}

export function checkLabeled(data: LabeledVectors): { dim: number; classes: string[] } {
  if (data.vectors.length === 0) throw new MoxingError('BAD_ARGUMENT', 'the training set is empty');
  if (data.vectors.length !== data.labels.length) {
    throw new MoxingError('BAD_ARGUMENT', `${data.vectors.length} training vectors but ${data.labels.length} labels`);
  }
  const dim = data.vectors[0].length;
  if (data.vectors.some((v) => v.length !== dim)) throw new MoxingError('BAD_ARGUMENT', 'training vectors differ in length');
  return { dim, classes: [...new Set(data.labels)].sort() };
}

export class KnnClassifier {
  readonly classes: readonly string[];
  private readonly train: Float32Array;
  private readonly classOf: Int32Array;
  private readonly dim: number;
  readonly options: KnnOptions;

  constructor(data: LabeledVectors, options: Partial<KnnOptions> = {}) {
    const o = { ...DEFAULT_KNN, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as KnnOptions;
    if (!Number.isInteger(o.k) || o.k < 1) throw new MoxingError('BAD_ARGUMENT', `k must be a whole number >= 1, got ${o.k}`);
    if (!(o.temperature > 0)) throw new MoxingError('BAD_ARGUMENT', `temperature must be > 0, got ${o.temperature}`);
    const { dim, classes } = checkLabeled(data);
    this.options = o;
    this.dim = dim;
    this.classes = classes;
    const index = new Map(classes.map((c, i) => [c, i]));
    this.classOf = Int32Array.from(data.labels, (l) => index.get(l) as number);
    this.train = new Float32Array(data.vectors.length * dim);
    data.vectors.forEach((v, i) => this.train.set(l2Normalize(v.slice()), i * dim));
  }

  predict(vector: Float32Array): Prediction {
    if (vector.length !== this.dim) throw new MoxingError('BAD_ARGUMENT', `expected a ${this.dim}-d feature, got ${vector.length}-d`);
    const q = l2Normalize(vector.slice());
    const n = this.classOf.length;
    const sims = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let dot = 0;
      const base = i * this.dim;
      for (let j = 0; j < this.dim; j++) dot += this.train[base + j] * q[j];
      sims[i] = dot;
    }
    const k = Math.min(this.options.k, n);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => sims[b] - sims[a]).slice(0, k);
    return toPrediction(this.classes, voteWeights(order.map((i) => sims[i]), order.map((i) => this.classOf[i]), this.classes.length, this.options.temperature));
  }
}

/**
 * Each class's summed vote exp(sim / T), shifted by the best similarity: exp((sim - max) / T) has the same
 * shares but cannot overflow (at T 0.001 a similarity of 0.9 gives exp(900) = Infinity, and Infinity /
 * Infinity made every share NaN). The best neighbour's vote is exactly 1, so the total is never 0.
 */
export function voteWeights(sims: readonly number[], classOf: readonly number[], classCount: number, temperature: number): Float64Array {
  const votes = new Float64Array(classCount);
  const max = sims.reduce((a, b) => (b > a ? b : a), Number.NEGATIVE_INFINITY);
  sims.forEach((sim, i) => (votes[classOf[i]] += Math.exp((sim - max) / temperature)));
  return votes;
}

/** Normalises class scores to shares and sorts them. */
export function toPrediction(classes: readonly string[], scores: Float64Array): Prediction {
  const total = scores.reduce((a, b) => a + b, 0) || 1;
  const ranked = classes.map((label, i) => ({ label, score: scores[i] / total })).sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : 1));
  return { label: ranked[0].label, scores: ranked };
}
