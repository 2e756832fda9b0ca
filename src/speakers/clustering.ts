/**
 * sherpa-onnx's fast-clustering: cosine distance between L2-normalised embeddings (floored at 0), complete-linkage
 * agglomerative clustering (fastcluster's hclust), cut at a number of clusters or below a distance threshold
 * (fastcluster's cutree_k / cutree_cdist: merges at heights under the threshold are kept). Labels are numbered
 * in order of first appearance, as cutree numbers them.
 */
import { MoxingError } from '../errors.js';

export interface ClusteringOptions {
  /** Exact number of clusters; overrides the threshold. */
  numClusters?: number;
  /** Cosine-distance threshold: the larger, the fewer clusters. @default 0.5 */
  threshold?: number;
  /** Bounds on the number of clusters the threshold gives. */
  minClusters?: number;
  maxClusters?: number;
}

/** One merge of the dendrogram, in order of height: the two clusters' member lists joined. */
interface Merge {
  readonly height: number;
  readonly a: number;
  readonly b: number;
}

/** Complete-linkage merges of `n` points with condensed pairwise `distance` (row-major upper triangle). */
function completeLinkage(n: number, distance: (i: number, j: number) => number): Merge[] {
  // Naive O(n³) is plenty: one point per (window, local speaker), a few thousand at most for hours of audio.
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i * n + j] = d[j * n + i] = distance(i, j);
  const active = Array.from({ length: n }, (_, i) => i);
  const merges: Merge[] = [];
  while (active.length > 1) {
    let best = Infinity;
    let bi = 0;
    let bj = 1;
    for (let x = 0; x < active.length; x++) {
      for (let y = x + 1; y < active.length; y++) {
        const v = d[active[x] * n + active[y]];
        if (v < best) {
          best = v;
          bi = x;
          bj = y;
        }
      }
    }
    const a = active[bi];
    const b = active[bj];
    merges.push({ height: best, a, b });
    for (const c of active) {
      if (c === a || c === b) continue;
      const v = Math.max(d[a * n + c], d[b * n + c]);
      d[a * n + c] = d[c * n + a] = v;
    }
    active.splice(bj, 1); // a stands for the union from now on
  }
  // fastcluster sorts its merges by height (stable) before it numbers them
  return merges.map((m, i) => ({ m, i })).sort((x, y) => x.m.height - y.m.height || x.i - y.i).map((x) => x.m);
}

/** Labels after the first `steps` merges, numbered by first appearance. */
function cut(n: number, merges: readonly Merge[], steps: number): number[] {
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x])));
  for (let s = 0; s < steps; s++) parent[find(merges[s].b)] = find(merges[s].a);
  const ids = new Map<number, number>();
  return Array.from({ length: n }, (_, i) => {
    const root = find(i);
    if (!ids.has(root)) ids.set(root, ids.size);
    return ids.get(root) as number;
  });
}

/** Cosine distances of rows of `embeddings` ([n × dim]), as sherpa-onnx computes them. */
export function cosineDistances(embeddings: readonly Float32Array[]): (i: number, j: number) => number {
  const unit = embeddings.map((e) => {
    let norm = 0;
    for (const v of e) norm += v * v;
    norm = Math.sqrt(norm);
    return Float64Array.from(e, (v) => (norm > 0 ? v / norm : 0));
  });
  return (i, j) => {
    let dot = 0;
    const a = unit[i];
    const b = unit[j];
    for (let k = 0; k < a.length; k++) dot += a[k] * b[k];
    return Math.max(0, 1 - dot);
  };
}

/** Cluster labels (0, 1, ...) of each embedding. */
export function clusterEmbeddings(embeddings: readonly Float32Array[], options: ClusteringOptions = {}): number[] {
  const n = embeddings.length;
  const threshold = options.threshold ?? 0.5;
  for (const [name, value] of Object.entries({ numClusters: options.numClusters, minClusters: options.minClusters, maxClusters: options.maxClusters })) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new MoxingError('BAD_ARGUMENT', `${name} must be a positive integer, got ${value}`);
  }
  if (!(threshold > 0)) throw new MoxingError('BAD_ARGUMENT', `the clustering threshold must be positive, got ${threshold}`);
  if (n === 0) return [];
  if (n === 1) return [0];
  const merges = completeLinkage(n, cosineDistances(embeddings));
  let clusters: number;
  if (options.numClusters !== undefined) {
    // fastcluster's cutree_k answers one cluster when asked for more clusters than points
    clusters = options.numClusters > n ? 1 : options.numClusters;
  } else {
    const below = merges.findIndex((m) => m.height >= threshold);
    clusters = n - (below < 0 ? n - 1 : below);
    if (options.minClusters !== undefined) clusters = Math.max(clusters, Math.min(options.minClusters, n));
    if (options.maxClusters !== undefined) clusters = Math.min(clusters, options.maxClusters);
  }
  return cut(n, merges, n - clusters);
}
