/** Exact (brute-force) cosine search over packed vectors: the reference HNSW recall is measured against. */
import { MoxingError } from '../errors.js';

/** Cosine similarity of two vectors of equal length (0 when either is all zeros). */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new MoxingError('BAD_ARGUMENT', `cannot compare a ${a.length}-d and a ${b.length}-d vector`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * The k rows of `vectors` ([count, dim], row-major) most cosine-similar to `query`, best first.
 * @returns row indices and similarities.
 */
export function exactSearch(vectors: Float32Array, dim: number, query: Float32Array, k: number): { index: number; score: number }[] {
  if (query.length !== dim) throw new MoxingError('BAD_ARGUMENT', `query is ${query.length}-d, the vectors are ${dim}-d`);
  const count = Math.floor(vectors.length / dim);
  let qn = 0;
  for (let j = 0; j < dim; j++) qn += query[j] * query[j];
  qn = Math.sqrt(qn) || 1;
  // A small sorted buffer beats sorting all scores when k << count.
  const best: { index: number; score: number }[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * dim;
    let dot = 0;
    let n = 0;
    for (let j = 0; j < dim; j++) {
      const v = vectors[base + j];
      dot += v * query[j];
      n += v * v;
    }
    const score = n === 0 ? 0 : dot / (Math.sqrt(n) * qn);
    if (best.length < k || score > best[best.length - 1].score) {
      let at = best.length < k ? best.length : best.length - 1;
      while (at > 0 && best[at - 1].score < score) at--;
      best.splice(at, 0, { index: i, score });
      if (best.length > k) best.pop();
    }
  }
  return best;
}
