/**
 * The image routes, as one fastify plugin: `POST /v1/images/embeddings`, `/v1/images/search` and
 * `/v1/images/classify`. Images travel as base64 (optionally as data URLs) in JSON bodies. Bodies are
 * checked with zod (the same schemas give the routes' JSON schemas); every failure is a MoxingError answered
 * as `{ error: { code, message } }` with the code's status. Models and the index load lazily, once, and
 * are released when the app closes; training features sit in a small cache checked against the folder.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MoxingError } from '../errors.js';
import { parseBody } from './errors.js';
import { openVectorIndex, type VectorIndex } from '../vectors/index.js';
import {
  DEFAULT_EMBED,
  DEFAULT_KNN,
  embedImages,
  POOLINGS,
  TrainingSetCache,
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
}

export const DEFAULT_IMAGES_PLUGIN = Object.freeze({ model: 'dinov2-small', maxImages: 64, table: 'moxing_vectors' });

/** Largest request body: 64 images of a few MB each, base64-inflated. */
const BODY_LIMIT_BYTES = 256 * 1024 * 1024;

const imageString = z.string().min(1).describe('image bytes as base64, or a data: URL');

export const EmbeddingsRequest = z.object({
  images: z.array(imageString).min(1),
  model: z.string().optional(),
  pool: z.enum(POOLINGS).default(DEFAULT_EMBED.pool),
  normalize: z.boolean().default(DEFAULT_EMBED.normalize),
});

export const SearchRequest = z.object({
  image: imageString,
  k: z.number().int().min(1).max(1000).default(10),
  ef: z.number().int().min(1).max(100_000).optional().describe('HNSW search breadth (recall vs speed)'),
});

export const ClassifyRequest = z.object({
  images: z.array(imageString).min(1),
  method: z.enum(['knn', 'linear']).default('knn'),
  k: z.number().int().min(1).max(1000).default(DEFAULT_KNN.k),
  temperature: z.number().positive().default(DEFAULT_KNN.temperature),
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
  const o = { ...DEFAULT_IMAGES_PLUGIN, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as ImagesPluginOptions & typeof DEFAULT_IMAGES_PLUGIN;
  const allowed = new Set([o.model, ...(o.allowedModels ?? [])]);
  const models = new Map<string, Promise<VisionModel>>();
  // Bounded, and re-embeds the training folder when its images change on disk.
  const training = new TrainingSetCache();
  let index: Promise<VectorIndex> | undefined;

  const model = (name: string | undefined): Promise<VisionModel> => {
    const ref = name ?? o.model;
    if (!allowed.has(ref)) throw new MoxingError('BAD_ARGUMENT', `model "${ref}" is not served here; use one of ${[...allowed].join(', ')}`);
    let loading = models.get(ref);
    if (!loading) {
      loading = VisionModel.load(ref, o.modelOptions);
      models.set(ref, loading);
      loading.catch(() => models.delete(ref));
    }
    return loading;
  };
  const decodeAll = (images: readonly string[]): Buffer[] => {
    if (images.length > o.maxImages) throw new MoxingError('BAD_ARGUMENT', `at most ${o.maxImages} images per request, got ${images.length}`);
    return images.map((s, i) => decodeImageString(s, `images[${i}]`));
  };

  app.addHook('onClose', async () => {
    if (index) await (await index.catch(() => undefined))?.close();
    await Promise.all([...models.values()].map(async (loading) => (await loading.catch(() => undefined))?.close()));
  });

  app.post('/v1/images/embeddings', { bodyLimit: BODY_LIMIT_BYTES, schema: { body: bodySchema(EmbeddingsRequest) } }, async (request) => {
    const body = parseBody(EmbeddingsRequest, request.body);
    const images = decodeAll(body.images);
    const m = await model(body.model);
    const vectors = await embedImages(m, images, { pool: body.pool, normalize: body.normalize });
    return {
      object: 'list',
      model: body.model ?? o.model,
      pool: body.pool,
      dim: vectors[0].length,
      data: vectors.map((v, i) => ({ object: 'embedding', index: i, embedding: Array.from(v) })),
    };
  });

  app.post('/v1/images/search', { bodyLimit: BODY_LIMIT_BYTES, schema: { body: bodySchema(SearchRequest) } }, async (request) => {
    const body = parseBody(SearchRequest, request.body);
    if (!o.index) throw new MoxingError('NOT_FOUND', 'this server has no image index; start it with an index (moxing index DIR builds one)');
    const [image] = decodeAll([body.image]);
    if (!index) {
      index = openVectorIndex(o.index, { table: o.table });
      index.catch(() => (index = undefined));
    }
    const opened = await index;
    const attributes = await opened.attributes();
    const ref = attributes.model ?? o.model;
    allowed.add(ref); // the index's own model is always served for its searches
    const m = await model(ref);
    const [query] = await embedImages(m, [image], { pool: (attributes.pool as (typeof POOLINGS)[number]) ?? 'cls' });
    const hits = await opened.search(query, body.k, { ef: body.ef });
    return { model: ref, results: hits.map((h) => ({ path: h.key, score: h.score, metadata: h.metadata })) };
  });

  app.post('/v1/images/classify', { bodyLimit: BODY_LIMIT_BYTES, schema: { body: bodySchema(ClassifyRequest) } }, async (request) => {
    const body = parseBody(ClassifyRequest, request.body);
    if (!o.classifyTrainDir) throw new MoxingError('NOT_FOUND', 'this server has no training set for classification; start it with a folder of class subfolders');
    const images = decodeAll(body.images);
    const m = await model(undefined);
    const method = body.method as ClassifyMethod;
    const classifier = await training.classifier(m, o.classifyTrainDir, { method, knn: { k: body.k, temperature: body.temperature } });
    const vectors = await embedImages(m, images, { pool: classifier.pool });
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
