/**
 * Principal components of a small set of feature rows (e.g. 1 000 patch tokens of 384-1536 channels):
 * the d x d covariance and orthogonal (block power) iteration for its top eigenvectors. Deterministic.
 */
import { MoxingError } from '../errors.js';

export interface PcaResult {
  /** [components, dim] unit eigenvectors, strongest first. */
  readonly components: Float64Array;
  /** Their eigenvalues (variances), descending. */
  readonly variances: Float64Array;
  readonly mean: Float64Array;
  /** [rows, components] projections of the input rows. */
  readonly projections: Float64Array;
}

/**
 * PCA of `rows` of `data` ([rowCount, dim], row-major), restricted to the rows where `mask` is true when given.
 * @param count number of components (<= dim)
 */
export function pca(data: Float32Array, dim: number, count: number, mask?: readonly boolean[], iterations = 200): PcaResult {
  const total = Math.floor(data.length / dim);
  const rows = [...Array(total).keys()].filter((i) => !mask || mask[i]);
  if (rows.length < 2) throw new MoxingError('BAD_ARGUMENT', `PCA needs at least 2 rows, got ${rows.length}`);
  if (count < 1 || count > dim) throw new MoxingError('BAD_ARGUMENT', `PCA components must be 1..${dim}, got ${count}`);
  const mean = new Float64Array(dim);
  for (const r of rows) for (let j = 0; j < dim; j++) mean[j] += data[r * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= rows.length;
  // Covariance (upper triangle, mirrored).
  const cov = new Float64Array(dim * dim);
  const centered = new Float64Array(dim);
  for (const r of rows) {
    for (let j = 0; j < dim; j++) centered[j] = data[r * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ca = centered[a];
      if (ca === 0) continue;
      const row = a * dim;
      for (let b = a; b < dim; b++) cov[row + b] += ca * centered[b];
    }
  }
  for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) cov[b * dim + a] = cov[a * dim + b] /= rows.length - 1;

  // Orthogonal iteration from a fixed start.
  let q = new Float64Array(count * dim);
  for (let c = 0; c < count; c++) for (let j = 0; j < dim; j++) q[c * dim + j] = Math.sin(1 + (c + 1) * (j + 1) * 0.7);
  orthonormalize(q, count, dim);
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(count * dim);
    for (let c = 0; c < count; c++) {
      for (let a = 0; a < dim; a++) {
        let s = 0;
        const row = a * dim;
        for (let b = 0; b < dim; b++) s += cov[row + b] * q[c * dim + b];
        next[c * dim + a] = s;
      }
    }
    orthonormalize(next, count, dim);
    const change = Math.max(...Array.from({ length: count }, (_, c) => 1 - Math.abs(dot(next, c * dim, q, c * dim, dim))));
    q = next;
    if (change < 1e-12) break;
  }
  const variances = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    let s = 0;
    for (let a = 0; a < dim; a++) {
      let t = 0;
      for (let b = 0; b < dim; b++) t += cov[a * dim + b] * q[c * dim + b];
      s += q[c * dim + a] * t;
    }
    variances[c] = s;
  }
  // A sign convention so results are reproducible: the largest-magnitude coordinate is positive.
  for (let c = 0; c < count; c++) {
    let big = 0;
    for (let j = 1; j < dim; j++) if (Math.abs(q[c * dim + j]) > Math.abs(q[c * dim + big])) big = j;
    if (q[c * dim + big] < 0) for (let j = 0; j < dim; j++) q[c * dim + j] = -q[c * dim + j];
  }
  const projections = new Float64Array(total * count);
  for (let r = 0; r < total; r++) {
    for (let c = 0; c < count; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += (data[r * dim + j] - mean[j]) * q[c * dim + j];
      projections[r * count + c] = s;
    }
  }
  return { components: q, variances, mean, projections };
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
}

/** Modified Gram-Schmidt on `count` rows of length `dim`, in place. */
function orthonormalize(v: Float64Array, count: number, dim: number): void {
  for (let c = 0; c < count; c++) {
    for (let p = 0; p < c; p++) {
      const d = dot(v, c * dim, v, p * dim, dim);
      for (let j = 0; j < dim; j++) v[c * dim + j] -= d * v[p * dim + j];
    }
    const norm = Math.sqrt(dot(v, c * dim, v, c * dim, dim)) || 1;
    for (let j = 0; j < dim; j++) v[c * dim + j] /= norm;
  }
}
