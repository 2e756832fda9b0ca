/**
 * A small, self-invalidating cache of embedded training folders, for surfaces that classify many requests
 * against one folder (the `/v1/images/classify` route). Embedding the folder is the expensive part; the
 * k-NN vote (k, temperature) is rebuilt from cached features on each call, the linear probe is kept per
 * entry. Entries are keyed by model instance, folder and pooling, checked against the folder's files
 * (paths, sizes, mtimes) on every use, and the least recently used is dropped past `capacity`.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MoxingError } from '../errors.js';
import { classifierFromVectors, DEFAULT_CLASSIFY_POOL, embedTrainingSet, listLabeledImages, type ImageClassifier, type TrainClassifierOptions } from './classify.js';
import type { Pooling } from './features.js';
import type { LabeledVectors } from './knn.js';
import type { VisionModel } from './model.js';

export interface TrainingCacheOptions {
  /** Training sets kept in memory; the least recently used is dropped beyond it. @default 4 */
  capacity: number;
}

export const DEFAULT_TRAINING_CACHE: Readonly<TrainingCacheOptions> = Object.freeze({ capacity: 4 });

interface Entry {
  /** Paths, labels, sizes and mtimes of the folder's images when it was embedded. */
  readonly fingerprint: string;
  readonly features: Promise<LabeledVectors>;
  /** The last linear probe trained on these features, with the options it was trained with. */
  probe?: { readonly key: string; readonly classifier: Promise<ImageClassifier> };
}

/** Identity of a model instance: two loads of one ref (say fp32 and q8) must not share features. */
const modelIds = new WeakMap<VisionModel, number>();
let nextModelId = 0;
function modelId(model: VisionModel): number {
  let id = modelIds.get(model);
  if (id === undefined) {
    id = nextModelId++;
    modelIds.set(model, id);
  }
  return id;
}

/** What identifies the folder's content: each image's label, path, size and mtime, in listing order. */
export async function trainingFingerprint(paths: readonly string[], labels: readonly string[]): Promise<string> {
  const stats = await Promise.all(paths.map((p) => stat(p).catch(() => undefined)));
  return paths.map((p, i) => `${labels[i]}\t${p}\t${stats[i]?.size ?? -1}\t${stats[i]?.mtimeMs ?? -1}`).join('\n');
}

export class TrainingSetCache {
  readonly capacity: number;
  /** Insertion order is recency order: a hit is moved to the end, the first key is the eviction victim. */
  private readonly entries = new Map<string, Entry>();

  constructor(options: Partial<TrainingCacheOptions> = {}) {
    const capacity = options.capacity ?? DEFAULT_TRAINING_CACHE.capacity;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new MoxingError('BAD_ARGUMENT', `training cache capacity must be a whole number >= 1, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Training sets held now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The L2-normalised features of `trainDir` (DIR/<class>/<images>) under `model` and `pool`: embedded on the
   * first call, reused while the folder's images are unchanged, embedded again when any was added, removed,
   * resized or touched.
   */
  async features(model: VisionModel, trainDir: string, pool: Pooling, options: Pick<TrainClassifierOptions, 'batchSize' | 'onProgress'> = {}): Promise<LabeledVectors> {
    return (await this.entry(model, trainDir, pool, options)).features;
  }

  /** A classifier over the cached features of `trainDir`, as {@link trainImageClassifier} would train it. */
  async classifier(model: VisionModel, trainDir: string, options: TrainClassifierOptions = {}): Promise<ImageClassifier> {
    const method = options.method ?? 'knn';
    const pool = options.pool ?? DEFAULT_CLASSIFY_POOL[method];
    const entry = await this.entry(model, trainDir, pool, options);
    const features = await entry.features;
    // A k-NN classifier is one copy of the features: cheaper to rebuild than to cache per (k, temperature).
    if (method === 'knn') return classifierFromVectors(features, method, pool, options);
    const key = JSON.stringify(options.linear ?? {});
    if (entry.probe?.key !== key) {
      const classifier = Promise.resolve().then(() => classifierFromVectors(features, method, pool, options));
      entry.probe = { key, classifier };
      classifier.catch(() => {
        if (entry.probe?.classifier === classifier) entry.probe = undefined;
      });
    }
    return entry.probe.classifier;
  }

  /** Drops every entry. */
  clear(): void {
    this.entries.clear();
  }

  private async entry(model: VisionModel, trainDir: string, pool: Pooling, options: Pick<TrainClassifierOptions, 'batchSize' | 'onProgress'>): Promise<Entry> {
    const key = JSON.stringify([modelId(model), resolve(trainDir), pool]);
    const { paths, labels } = await listLabeledImages(trainDir);
    const fingerprint = await trainingFingerprint(paths, labels);
    const cached = this.entries.get(key);
    this.entries.delete(key);
    if (cached && cached.fingerprint === fingerprint) {
      this.entries.set(key, cached);
      return cached;
    }
    const features = embedTrainingSet(model, { paths, labels }, pool, options);
    const entry: Entry = { fingerprint, features };
    this.entries.set(key, entry);
    // A failed embedding is not cached: the next call tries again.
    features.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return entry;
  }
}
