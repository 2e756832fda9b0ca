/**
 * Image classification on frozen features: a training folder with one subfolder per class is embedded, then
 * DINO's weighted k-NN (default) or a linear probe labels new images.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MoxingError } from '../errors.js';
import { embedImages, type EmbedOptions, type Pooling } from './features.js';
import { listImages } from './image-index.js';
import { KnnClassifier, type KnnOptions, type LabeledVectors, type Prediction } from './knn.js';
import { LinearProbe, type LinearProbeOptions, type LinearProbeReport } from './linear.js';
import type { VisionModel } from './model.js';

export type ClassifyMethod = 'knn' | 'linear';

/** Pooling each method uses unless told otherwise: DINO's k-NN uses CLS, DINOv2's linear eval CLS + mean. */
export const DEFAULT_CLASSIFY_POOL: Readonly<Record<ClassifyMethod, Pooling>> = Object.freeze({ knn: 'cls', linear: 'cls+mean' });

/** Image paths and their class (the name of the subfolder of `dir` they sit in, at any depth below it). */
export async function listLabeledImages(dir: string): Promise<{ paths: string[]; labels: string[] }> {
  const root = resolve(dir);
  await listImages(root); // existence and folder checks with their errors
  const paths: string[] = [];
  const labels: string[] = [];
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const path of await listImages(join(root, entry.name))) {
      paths.push(path);
      labels.push(entry.name);
    }
  }
  if (paths.length === 0) {
    throw new MoxingError('BAD_ARGUMENT', `no labelled images in ${dir}: put each class's images in a subfolder named after the class (${dir}/cat/1.jpg, ${dir}/dog/2.jpg)`);
  }
  return { paths, labels };
}

export interface ImageClassifier {
  readonly method: ClassifyMethod;
  readonly classes: readonly string[];
  readonly pool: Pooling;
  /** Linear probe training report (held-out accuracy); undefined for k-NN. */
  readonly report?: LinearProbeReport;
  predict(vector: Float32Array): Prediction;
}

export interface TrainClassifierOptions extends Partial<Omit<EmbedOptions, 'pool'>> {
  method?: ClassifyMethod;
  pool?: Pooling;
  knn?: Partial<KnnOptions>;
  linear?: Partial<LinearProbeOptions>;
}

/** A classifier over already computed features. */
export function classifierFromVectors(data: LabeledVectors, method: ClassifyMethod, pool: Pooling, options: TrainClassifierOptions = {}): ImageClassifier {
  if (method === 'knn') {
    const knn = new KnnClassifier(data, options.knn);
    return { method, pool, classes: knn.classes, predict: (v) => knn.predict(v) };
  }
  const probe = LinearProbe.train(data, options.linear);
  return { method, pool, classes: probe.classes, report: probe.report, predict: (v) => probe.predict(v) };
}

/** L2-normalised features of listed training images, with their labels. */
export async function embedTrainingSet(
  model: VisionModel,
  images: { readonly paths: readonly string[]; readonly labels: readonly string[] },
  pool: Pooling,
  options: Partial<Omit<EmbedOptions, 'pool' | 'normalize'>> = {},
): Promise<LabeledVectors> {
  const vectors = await embedImages(model, images.paths, { batchSize: options.batchSize, onProgress: options.onProgress, pool, normalize: true });
  return { vectors, labels: [...images.labels] };
}

/** Embeds a folder of class subfolders and trains the chosen classifier on it. */
export async function trainImageClassifier(model: VisionModel, trainDir: string, options: TrainClassifierOptions = {}): Promise<ImageClassifier> {
  const method = options.method ?? 'knn';
  const pool = options.pool ?? DEFAULT_CLASSIFY_POOL[method];
  const features = await embedTrainingSet(model, await listLabeledImages(trainDir), pool, options);
  return classifierFromVectors(features, method, pool, options);
}
