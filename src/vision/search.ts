/**
 * The image index as a library: search it with a picture, and find near-duplicates in a folder. The CLI's
 * `search` and `dedupe` and the server's /v1/images/search are thin surfaces over these two functions.
 */
import { join, resolve, sep } from 'node:path';
import { MoxingError } from '../errors.js';
import { resolveHubOptions } from '../hub/index.js';
import { findDuplicates, type DuplicateGroup, type DuplicateOptions, type SearchHit, type VectorIndex } from '../vectors/index.js';
import { embedImages, POOLINGS, type Pooling } from './features.js';
import type { ImageInput } from './image.js';
import { indexImages, listImages, type IndexImagesOptions, type IndexReport } from './image-index.js';
import { VisionModel, type VisionModelOptions } from './model.js';

/** The model the vision commands and routes use unless told otherwise. */
export const DEFAULT_VISION_MODEL = 'dinov2-small';

/** Where the image index lives unless a location is given: $MOXING_INDEX, else `<cache>/indexes/images`. */
export function defaultIndexLocation(env: NodeJS.ProcessEnv = process.env): string {
  return env.MOXING_INDEX || join(resolveHubOptions({}, env).cacheDir, 'indexes', 'images');
}

/** The pooling an index was built with (its attributes), checked. */
export async function indexPooling(index: VectorIndex): Promise<Pooling> {
  const pool = ((await index.attributes()).pool ?? 'cls') as Pooling;
  if (!(POOLINGS as readonly string[]).includes(pool)) throw new MoxingError('BAD_ARGUMENT', `the index records an unknown pooling "${pool}"`);
  return pool;
}

/**
 * The model to embed queries of `index` with: the one it was built with. A model given (a loaded one or a
 * reference) must be that same model: vectors of two models are not comparable.
 */
export async function modelForIndex(index: VectorIndex, model?: VisionModel | string, options: VisionModelOptions = {}): Promise<VisionModel> {
  const built = (await index.attributes()).model;
  const loaded = model instanceof VisionModel ? model : await VisionModel.load(model ?? built ?? DEFAULT_VISION_MODEL, options);
  if (built && loaded.info.ref !== built) {
    throw new MoxingError('BAD_ARGUMENT', `the index was built with the model ${built}, not ${loaded.info.ref}; use that model (or omit it)`);
  }
  return loaded;
}

export interface SearchIndexOptions {
  /** Results wanted. @default 10 */
  k?: number;
  /** HNSW search breadth (recall vs speed). @default the index's */
  ef?: number;
  /** The model, loaded or as a reference; must be the index's own. @default the index's own */
  model?: VisionModel | string;
  /** How to load the model when it is given as a reference. */
  modelOptions?: VisionModelOptions;
}

export const DEFAULT_SEARCH_INDEX = Object.freeze({ k: 10 });

/** The `k` indexed images most similar to `query` (a path or encoded bytes), best first. */
export async function searchIndex(index: VectorIndex, query: ImageInput, options: SearchIndexOptions = {}): Promise<SearchHit[]> {
  // Before any model loads: an empty index can answer nothing, and the fix is to fill it.
  if ((await index.count()) === 0) throw new MoxingError('NOT_FOUND', 'the image index is empty; add images to it first (moxing index DIR)');
  const pool = await indexPooling(index);
  const model = await modelForIndex(index, options.model, options.modelOptions);
  try {
    const [vector] = await embedImages(model, [query], { pool });
    return await index.search(vector, options.k ?? DEFAULT_SEARCH_INDEX.k, { ef: options.ef });
  } finally {
    // A model this call loaded is released with it; a given one belongs to the caller.
    if (!(options.model instanceof VisionModel)) await model.close();
  }
}

export interface DedupeFolderOptions extends IndexImagesOptions, Partial<DuplicateOptions> {}

export interface DedupeFolderResult {
  /** What indexing the folder did first (new, changed, unchanged images). */
  readonly report: IndexReport;
  /** Groups of near-duplicates among the images now in the folder. */
  readonly groups: DuplicateGroup[];
}

/**
 * Indexes the images under `dir` into `index` (only new or changed files are embedded) and groups the ones
 * whose cosine similarity reaches the threshold. Only images present in the folder now take part.
 */
export async function dedupeFolder(model: VisionModel, dir: string, index: VectorIndex, options: DedupeFolderOptions = {}): Promise<DedupeFolderResult> {
  const report = await indexImages(model, dir, index, options);
  const root = resolve(dir);
  const present = new Set(await listImages(root));
  const keys = (await index.list()).map((e) => e.key).filter((k) => k.startsWith(root + sep) && present.has(k));
  const groups = await findDuplicates(index, { threshold: options.threshold, neighbors: options.neighbors }, keys);
  return { report, groups };
}
