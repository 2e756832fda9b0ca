/**
 * Who spoke when, as sherpa-onnx's OfflineSpeakerDiarizationPyannoteImpl does it (itself pyannote's pipeline):
 *
 * 1. Segmentation over sliding windows (step: a fraction of the window; the last window zero-padded).
 * 2. Powerset → multilabel per frame; the number of active speakers per frame, overlap-added over windows.
 * 3. One embedding per (window, local speaker) active for at least 10 frames, over its frames without overlap.
 * 4. Agglomerative clustering of the embeddings (./clustering.ts).
 * 5. Each window's local speakers relabelled to their cluster, activity overlap-added per cluster, and per frame
 *    the `count` most active clusters kept.
 * 6. Frames → segments; gaps shorter than min_duration_off merged, segments not longer than min_duration_on dropped.
 *
 * Arithmetic follows sherpa-onnx's float32 where it decides a frame or a sample index, so the two agree.
 */
import { MoxingError } from '../errors.js';
import { clusterEmbeddings, cosineDistances, type ClusteringOptions } from './clustering.js';
import type { EmbeddingModel } from './embedding.js';
import type { SegmentationModel } from './segmentation.js';
import { concatFloat32 } from '../runtime/index.js';

const f32 = Math.fround;

export interface PipelineOptions extends ClusteringOptions {
  /** Window step as a fraction of the segmentation window. @default 0.1 */
  windowStep: number;
  /** Segments of a speaker not longer than this (seconds) are dropped. @default 0.3 */
  minDurationOn: number;
  /** Gaps within a speaker's speech up to this long (seconds) are closed. @default 0.5 */
  minDurationOff: number;
}

export const DEFAULT_PIPELINE: Readonly<PipelineOptions> = Object.freeze({ windowStep: 0.1, threshold: 0.5, minDurationOn: 0.3, minDurationOff: 0.5 });

/** One turn: seconds, and the cluster index of its speaker. */
export interface ClusterSegment {
  start: number;
  end: number;
  cluster: number;
}

export interface PipelineResult {
  /** Sorted by start, then cluster. */
  readonly segments: ClusterSegment[];
  /** One embedding per cluster index (the mean of its unit-length members); empty in the one-window case. */
  readonly centroids: Map<number, Float32Array>;
  /** Seconds per frame and the time of frame 0's centre. */
  readonly frameStep: number;
  readonly frameOffset: number;
}

/** Window step in samples, clamped as sherpa-onnx clamps it. */
export function windowShift(windowSize: number, step: number): number {
  if (!(step > 0 && step <= 1)) throw new MoxingError('BAD_ARGUMENT', `the window step must be in (0, 1] of the window, got ${step}`);
  const shift = step * windowSize;
  return shift < 1 ? 1 : Math.trunc(shift);
}

/** The windows the segmentation sees: full windows every `shift` samples, then the rest zero-padded. */
export function slidingWindows(audio: Float32Array, windowSize: number, shift: number): Float32Array[] {
  const n = audio.length;
  if (n <= windowSize) {
    const padded = new Float32Array(windowSize);
    padded.set(audio);
    return [padded];
  }
  const full = Math.floor((n - windowSize) / shift) + 1;
  const windows: Float32Array[] = [];
  for (let i = 0; i < full; i++) windows.push(audio.subarray(i * shift, i * shift + windowSize));
  if ((n - windowSize) % shift > 0) {
    const last = new Float32Array(windowSize);
    last.set(audio.subarray(full * shift));
    windows.push(last);
  }
  return windows;
}

/** First global frame of window `i`. */
function frameStart(i: number, shift: number, rfShift: number): number {
  return Math.trunc(f32(f32(i * shift) / rfShift) + 0.5);
}

function rowSum(labels: Uint8Array, frame: number, speakers: number): number {
  let s = 0;
  for (let k = 0; k < speakers; k++) s += labels[frame * speakers + k];
  return s;
}

/** Speakers active per global frame: the mean over overlapping windows of their local counts, rounded. */
export function speakersPerFrame(labels: readonly Uint8Array[], speakers: number, windowSize: number, shift: number, rfShift: number): Int32Array {
  const total = Math.floor((windowSize + (labels.length - 1) * shift) / rfShift) + 1;
  const count = new Float32Array(total);
  const weight = new Float32Array(total);
  labels.forEach((l, i) => {
    const start = frameStart(i, shift, rfShift);
    const frames = l.length / speakers;
    for (let f = 0; f < frames && start + f < total; f++) {
      count[start + f] += rowSum(l, f, speakers);
      weight[start + f] += 1;
    }
  });
  return Int32Array.from(count, (c, f) => Math.trunc(f32(f32(c / f32(weight[f] + f32(1e-12))) + 0.5)));
}

/** libstdc++'s std::partial_sort selection of the `k` largest of `values` (which of equal values wins matters). */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const size = values.length;
  const kk = Math.max(0, Math.min(size, k));
  const idx = Array.from({ length: size }, (_, i) => i);
  if (kk === 0) return [];
  const comp = (a: number, b: number) => values[a] > values[b];
  const pushHeap = (hole: number, top: number, value: number) => {
    let parent = Math.floor((hole - 1) / 2);
    while (hole > top && comp(idx[parent], value)) {
      idx[hole] = idx[parent];
      hole = parent;
      parent = Math.floor((hole - 1) / 2);
    }
    idx[hole] = value;
  };
  const adjustHeap = (hole: number, len: number, value: number) => {
    const top = hole;
    let child = hole;
    while (child < Math.floor((len - 1) / 2)) {
      child = 2 * (child + 1);
      if (comp(idx[child], idx[child - 1])) child--;
      idx[hole] = idx[child];
      hole = child;
    }
    if ((len & 1) === 0 && child === Math.floor((len - 2) / 2)) {
      child = 2 * (child + 1);
      idx[hole] = idx[child - 1];
      hole = child - 1;
    }
    pushHeap(hole, top, value);
  };
  if (kk >= 2) {
    for (let parent = Math.floor((kk - 2) / 2); ; parent--) {
      adjustHeap(parent, kk, idx[parent]);
      if (parent === 0) break;
    }
  }
  for (let i = kk; i < size; i++) {
    if (comp(idx[i], idx[0])) {
      const value = idx[i];
      idx[i] = idx[0];
      adjustHeap(0, kk, value);
    }
  }
  return idx.slice(0, kk);
}

/** (window, local speaker) pairs worth an embedding, with the sample ranges where only that speaker talks. */
function embeddingRegions(labels: readonly Uint8Array[], speakers: number, windowSize: number, shift: number): { window: number; speaker: number; ranges: [number, number][] }[] {
  const out: { window: number; speaker: number; ranges: [number, number][] }[] = [];
  labels.forEach((l, w) => {
    const frames = l.length / speakers;
    const offset = w * shift;
    const sample = (frame: number) => Math.trunc(f32(f32(f32(frame / frames) * windowSize) + offset));
    for (let s = 0; s < speakers; s++) {
      const alone = (f: number) => l[f * speakers + s] === 1 && rowSum(l, f, speakers) < 2;
      let active = 0;
      for (let f = 0; f < frames; f++) if (alone(f)) active++;
      if (active < 10) continue;
      const ranges: [number, number][] = [];
      let start = -1;
      for (let f = 0; f < frames; f++) {
        if (alone(f)) {
          if (start < 0) start = f;
        } else if (start >= 0) {
          ranges.push([sample(start), sample(f)]);
          start = -1;
        }
      }
      if (start >= 0) ranges.push([sample(start), sample(frames - 1)]);
      out.push({ window: w, speaker: s, ranges });
    }
  });
  return out;
}

/** Frames of `active` (per cluster column) → segments, merged and filtered by duration. */
function toSegments(active: Uint8Array, frames: number, clusters: number, step: number, offset: number, options: PipelineOptions): ClusterSegment[] {
  const out: ClusterSegment[] = [];
  const time = (frame: number) => f32(f32(frame * step) + offset);
  for (let c = 0; c < clusters; c++) {
    const turns: ClusterSegment[] = [];
    let start = active[c] > 0 ? 0 : -1;
    for (let f = 1; f < frames; f++) {
      const on = active[f * clusters + c];
      if (start >= 0 && on === 0) {
        turns.push({ start: time(start), end: time(f), cluster: c });
        start = -1;
      } else if (start < 0 && on === 1) start = f;
    }
    if (start >= 0) turns.push({ start: time(start), end: time(frames - 1), cluster: c });
    const gap = f32(options.minDurationOff);
    for (let changed = true; changed; ) {
      changed = false;
      for (let i = 0; i + 1 < turns.length; i++) {
        const a = turns[i];
        const b = turns[i + 1];
        if (a.end < b.start && f32(a.end + gap) >= b.start) {
          turns.splice(i, 2, { start: a.start, end: b.end, cluster: c });
          changed = true;
          break;
        }
      }
    }
    for (const t of turns) if (f32(t.end - t.start) > f32(options.minDurationOn)) out.push(t);
  }
  return out.sort((a, b) => a.start - b.start || a.cluster - b.cluster);
}

function concatRanges(audio: Float32Array, ranges: readonly [number, number][]): Float32Array {
  return concatFloat32(ranges.map(([a, b]) => audio.subarray(a, Math.min(b, audio.length))));
}

/** Seconds spent per stage, filled in when passed to runPipeline (benchmarks). */
export interface StageTimings {
  segmentation: number;
  embedding: number;
  clustering: number;
}

const now = () => performance.now() / 1000;

/** The full pipeline on 16 kHz mono samples. */
export async function runPipeline(audio: Float32Array, segmentation: SegmentationModel, embedding: EmbeddingModel, options: PipelineOptions, timings?: StageTimings): Promise<PipelineResult> {
  const meta = segmentation.metadata;
  const { windowSize, numSpeakers: speakers, receptiveFieldShift: rfShift } = meta;
  const step = f32(rfShift / meta.sampleRate);
  const offset = f32((0.5 * meta.receptiveFieldSize) / meta.sampleRate);
  const empty: PipelineResult = { segments: [], centroids: new Map(), frameStep: step, frameOffset: offset };
  const n = audio.length;
  if (n === 0) return empty;
  const shift = windowShift(windowSize, options.windowStep);
  let started = now();
  const labels = await segmentation.segment(slidingWindows(audio, windowSize, shift));
  if (timings) timings.segmentation += now() - started;
  const hasLast = (n - windowSize) % shift > 0;

  if (labels.length === 1) {
    // one window: its local speakers are the speakers, no clustering
    const frames = labels[0].length / speakers;
    const keep = hasLast ? Math.min(Math.trunc(n / rfShift), frames) : frames;
    return { ...empty, segments: toSegments(labels[0].subarray(0, keep * speakers), keep, speakers, step, offset, options) };
  }

  const perFrame = speakersPerFrame(labels, speakers, windowSize, shift, rfShift);
  if (Math.max(...perFrame) === 0) return empty;

  started = now();
  const regions = embeddingRegions(labels, speakers, windowSize, shift);
  const embeddings: Float32Array[] = [];
  const kept: typeof regions = [];
  for (const region of regions) {
    const samples = concatRanges(audio, region.ranges);
    if (embedding.frames(samples.length) === 0) continue;
    const e = await embedding.embed(samples);
    if (!e) continue; // sherpa-onnx drops NaN embeddings
    embeddings.push(e);
    kept.push(region);
  }
  if (timings) timings.embedding += now() - started;
  started = now();
  const clusterOf = clusterEmbeddings(embeddings, options);
  if (clusterOf.length === 0) return empty;
  const clusters = Math.max(...clusterOf) + 1;
  const toCluster = new Map(kept.map((r, i) => [`${r.window}:${r.speaker}`, clusterOf[i]]));

  const total = Math.floor((windowSize + (labels.length - 1) * shift) / rfShift) + 1;
  const count = new Int32Array(total * clusters);
  labels.forEach((l, w) => {
    const start = frameStart(w, shift, rfShift);
    const frames = l.length / speakers;
    const relabelled = new Uint8Array(frames * clusters);
    for (let s = 0; s < speakers; s++) {
      const c = toCluster.get(`${w}:${s}`);
      if (c === undefined) continue;
      for (let f = 0; f < frames; f++) if (l[f * speakers + s] === 1) relabelled[f * clusters + c] = 1;
    }
    for (let f = 0; f < frames && start + f < total; f++) {
      for (let c = 0; c < clusters; c++) count[(start + f) * clusters + c] += relabelled[f * clusters + c];
    }
  });
  const frames = hasLast ? Math.min(Math.trunc(n / rfShift), total - 1) + 1 : total;
  const active = new Uint8Array(frames * clusters);
  for (let f = 0; f < frames; f++) {
    const k = perFrame[f];
    if (k === 0) continue;
    for (const c of topIndices(count.subarray(f * clusters, (f + 1) * clusters), k)) active[f * clusters + c] = 1;
  }
  const segments = toSegments(active, frames, clusters, step, offset, options);
  if (timings) timings.clustering += now() - started;
  return { segments, centroids: centroidsOf(embeddings, clusterOf), frameStep: step, frameOffset: offset };
}

function centroidsOf(embeddings: readonly Float32Array[], clusterOf: readonly number[]): Map<number, Float32Array> {
  const sums = new Map<number, Float64Array>();
  embeddings.forEach((e, i) => {
    let norm = 0;
    for (const v of e) norm += v * v;
    norm = Math.sqrt(norm) || 1;
    const sum = sums.get(clusterOf[i]) ?? new Float64Array(e.length);
    for (let k = 0; k < e.length; k++) sum[k] += e[k] / norm;
    sums.set(clusterOf[i], sum);
  });
  return new Map([...sums].map(([c, s]) => [c, Float32Array.from(s)]));
}

/**
 * Names for clusters from reference embeddings (OpenAI's known_speaker_references): each reference goes to the
 * cluster closest to it by cosine distance, best pairs first, one cluster per reference.
 */
export function nameClusters(centroids: ReadonlyMap<number, Float32Array>, references: readonly { name: string; embedding: Float32Array }[]): Map<number, string> {
  const ids = [...centroids.keys()];
  const vectors = [...ids.map((c) => centroids.get(c) as Float32Array), ...references.map((r) => r.embedding)];
  const distance = cosineDistances(vectors);
  const pairs: { cluster: number; ref: number; d: number }[] = [];
  ids.forEach((c, i) => references.forEach((_, r) => pairs.push({ cluster: c, ref: r, d: distance(i, ids.length + r) })));
  pairs.sort((a, b) => a.d - b.d);
  const names = new Map<number, string>();
  const used = new Set<number>();
  for (const p of pairs) {
    if (names.has(p.cluster) || used.has(p.ref)) continue;
    names.set(p.cluster, references[p.ref].name);
    used.add(p.ref);
  }
  return names;
}
