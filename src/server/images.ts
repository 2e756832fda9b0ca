/**
 * The image routes, as one fastify plugin: `POST /v1/images/embeddings`, `/v1/images/search` and
 * `/v1/images/classify`. Images travel as base64 (optionally as data URLs) in JSON bodies. Bodies are
 * checked with strict zod schemas (the same schemas give the routes' JSON schemas); every failure is a
 * MoxingError answered as `{ error: { code, message } }` with the code's status. Each image's pixel count is
 * checked from its header before it is decoded, and decoding and inference run as the server's model work
 * (bounded concurrency, 429 past it). Models and the index load lazily, once, and are released when the app
 * closes; training features sit in a small cache checked against the folder.
 */
import type { FastifyInstance } from 'fastify';
import { relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { withDefaults } from '../defaults.js';
import { MoxingError } from '../errors.js';
import { ModelAllowList, publicModelName } from './models.js';
import { parseBody } from './errors.js';
import { DEFAULT_PGVECTOR, openVectorIndex, type VectorIndex } from '../vectors/index.js';
import {
  DEFAULT_EMBED,
  DEFAULT_KNN,
  embedImages,
  POOLINGS,
  TrainingSetCache,
  checkImagePixels,
  DEFAULT_VISION_MODEL,
  searchIndex,
  VisionModel,
  type ClassifyMethod,
  type VisionModelOptions,
} from '../vision/index.js';

export interface ImagesPluginOptions {
  /** Model for requests that name none. @default 'dinov2-small' */
  model?: string;
  /** Other models a request may name; requests naming any other model are refused. @default [] */
  allowedModels?: readonly string[];
  /** Index searched by /v1/images/search: a folder or a postgres:// URL. Without it the route answers 404. */
  index?: string;
  /** pgvector table when `index` is a postgres:// URL. @default 'moxing_vectors' */
  table?: string;
  /** Training folder (DIR/<class>/<images>) for /v1/images/classify. Without it the route answers 404. */
  classifyTrainDir?: string;
  /** Runtime and hub options for loading models. */
  modelOptions?: VisionModelOptions;
  /** Most images in one request. @default 64 */
  maxImages?: number;
  /** Search results name images relative to this folder (other keys by file name only). @default the working folder at start-up */
  imageRoot?: string;
}

export const DEFAULT_IMAGES_PLUGIN: Readonly<{ model: string; maxImages: number; table: string }> = Object.freeze({ model: DEFAULT_VISION_MODEL, maxImages: 64, table: DEFAULT_PGVECTOR.table });

const imageString = z.string().min(1).describe('image bytes as base64, or a data: URL');

export const EmbeddingsRequest = z.strictObject({
  images: z.array(imageString).min(1),
  model: z.string().min(1).max(200).optional(),
  pool: z.enum(POOLINGS).default(DEFAULT_EMBED.pool),
  normalize: z.boolean().default(DEFAULT_EMBED.normalize),
});

export const SearchRequest = z.strictObject({
  image: imageString,
  k: z.number().int().min(1).max(1000).default(10),
  ef: z.number().int().min(1).max(100_000).optional().describe('HNSW search breadth (recall vs speed)'),
});

export const ClassifyRequest = z.strictObject({
  images: z.array(imageString).min(1),
  method: z.enum(['knn', 'linear']).default('knn'),
  k: z.number().int().min(1).max(1000).default(DEFAULT_KNN.k),
  temperature: z.number().positive().max(100).default(DEFAULT_KNN.temperature),
  top: z.number().int().min(1).max(1000).default(5),
});

/** Decodes base64 or a data URL into bytes. */
export function decodeImageString(value: string, what: string): Buffer {
  const comma = value.startsWith('data:') ? value.indexOf(',') : -1;
  const payload = (comma >= 0 ? value.slice(comma + 1) : value).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload)) {
    throw new MoxingError('BAD_ARGUMENT', `${what} is not base64: send the image bytes base64-encoded (or as a data: URL)`);
  }
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length === 0) throw new MoxingError('FILE_EMPTY', `${what} is empty`);
  return bytes;
}

function bodySchema(schema: z.ZodType): Record<string, unknown> {
  // zod's JSON schema of the input side (defaults make fields optional), for documentation and fastify.
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return json;
}

export async function imagesPlugin(app: FastifyInstance, options: ImagesPluginOptions): Promise<void> {
  const o = withDefaults<ImagesPluginOptions & typeof DEFAULT_IMAGES_PLUGIN>(DEFAULT_IMAGES_PLUGIN, options);
  const allowList = new ModelAllowList({ served: [o.model, ...(o.allowedModels ?? [])] });
  const models = new Map<string, Promise<VisionModel>>();
  // Bounded, and re-embeds the training folder when its images change on disk.
  const training = new TrainingSetCache();
  const imageRoot = resolve(o.imageRoot ?? '.');
  const { imageBodyLimitBytes: bodyLimit, maxImagePixels } = app.security;
  let index: Promise<VectorIndex> | undefined;

  const model = (ref: string): Promise<VisionModel> => {
    let loading = models.get(ref);
    if (!loading) {
      loading = VisionModel.load(ref, o.modelOptions);
      models.set(ref, loading);
      loading.catch(() => models.delete(ref));
    }
    return loading;
  };
  const requestedModel = (name: string | undefined): Promise<VisionModel> => model(name === undefined ? o.model : allowList.resolve(name).ref);
  const decodeAll = async (images: readonly string[]): Promise<Buffer[]> => {
    if (images.length > o.maxImages) throw new MoxingError('BAD_ARGUMENT', `at most ${o.maxImages} images per request, got ${images.length}`);
    const bytes = images.map((s, i) => decodeImageString(s, `images[${i}]`));
    for (const [i, b] of bytes.entries()) await checkImagePixels(b, maxImagePixels, `images[${i}]`);
    return bytes;
  };
  /** An index key (an absolute path on this machine) as a client may see it. */
  const shownPath = (key: string): string => {
    const rel = relative(imageRoot, key);
    return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel) ? rel.split(sep).join('/') : key.split(/[\\/]/).pop() ?? '';
  };

  app.addHook('onClose', async () => {
    if (index) await (await index.catch(() => undefined))?.close();
    await Promise.all([...models.values()].map(async (loading) => (await loading.catch(() => undefined))?.close()));
  });

  app.post('/v1/images/embeddings', { bodyLimit, schema: { body: bodySchema(EmbeddingsRequest) } }, async (request) => {
    const body = parseBody(EmbeddingsRequest, request.body);
    const m = requestedModel(body.model);
    m.catch(() => undefined);
    const vectors = await app.work(request, async () => {
      const images = await decodeAll(body.images); // the cheap checks first
      return embedImages(await m, images, { pool: body.pool, normalize: body.normalize });
    });
    return {
      object: 'list',
      model: publicModelName(body.model ?? o.model),
      pool: body.pool,
      dim: vectors[0].length,
      data: vectors.map((v, i) => ({ object: 'embedding', index: i, embedding: Array.from(v) })),
    };
  });

  app.post('/v1/images/search', { bodyLimit, schema: { body: bodySchema(SearchRequest) } }, async (request) => {
    const body = parseBody(SearchRequest, request.body);
    if (!o.index) throw new MoxingError('NOT_FOUND', 'this server has no image index; start it with an index (moxing index DIR builds one)');
    if (!index) {
      index = openVectorIndex(o.index, { table: o.table });
      index.catch(() => (index = undefined));
    }
    const opened = await index;
    // The index's own model, chosen by whoever built it, is always the one its searches use.
    const ref = (await opened.attributes()).model ?? o.model;
    const hits = await app.work(request, async () => {
      const [image] = await decodeAll([body.image]);
      return searchIndex(opened, image, { k: body.k, ef: body.ef, model: await model(ref) });
    });
    return { model: publicModelName(ref), results: hits.map((h) => ({ path: shownPath(h.key), score: h.score })) };
  });

  app.post('/v1/images/classify', { bodyLimit, schema: { body: bodySchema(ClassifyRequest) } }, async (request) => {
    const body = parseBody(ClassifyRequest, request.body);
    if (!o.classifyTrainDir) throw new MoxingError('NOT_FOUND', 'this server has no training set for classification; start it with a folder of class subfolders');
    const trainDir = o.classifyTrainDir;
    const method = body.method as ClassifyMethod;
    const { classifier, vectors } = await app.work(request, async () => {
      const m = await model(o.model);
      const images = await decodeAll(body.images);
      const c = await training.classifier(m, trainDir, { method, knn: { k: body.k, temperature: body.temperature } });
      return { classifier: c, vectors: await embedImages(m, images, { pool: c.pool }) };
    });
    return {
      method,
      classes: classifier.classes,
      ...(classifier.report ? { report: classifier.report } : {}),
      predictions: vectors.map((v, i) => {
        const p = classifier.predict(v);
        return { index: i, label: p.label, scores: p.scores.slice(0, body.top) };
      }),
    };
  });
}
