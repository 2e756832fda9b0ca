import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.js';
import { HnswIndex } from '../../src/vectors/index.js';
import { embedImages, indexAttributes, indexImages, VisionModel } from '../../src/vision/index.js';
import { models, tempDir, writePicture } from './fixtures.js';

describe('image API (app.inject)', () => {
  const tmp = tempDir();
  let app: FastifyInstance;
  let modelDir = '';
  const files: string[] = [];
  const b64 = (path: string): string => readFileSync(path).toString('base64');

  before(async () => {
    modelDir = models.dinov2();
    const train = join(tmp.dir, 'train');
    for (const [k, cls] of ['warm', 'cool'].entries()) {
      mkdirSync(join(train, cls), { recursive: true });
      for (let i = 0; i < 3; i++) files.push(await writePicture(join(train, cls, `${i}.png`), k * 3 + i, 96, 96));
    }
    const model = await VisionModel.load(modelDir);
    const index = HnswIndex.open(join(tmp.dir, 'index'), { dim: 32, attributes: indexAttributes(model, 'cls') });
    await indexImages(model, train, index);
    await index.close();
    app = await buildApp({ images: { model: modelDir, index: join(tmp.dir, 'index'), classifyTrainDir: train, imageRoot: tmp.dir } });
  });
  after(async () => {
    await app?.close();
    tmp.cleanup();
  });

  test('POST /v1/images/embeddings returns the same vectors as the library, for base64 and data URLs', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/images/embeddings',
      payload: { images: [b64(files[0]), `data:image/png;base64,${b64(files[4])}`], pool: 'cls+mean' },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { dim: number; pool: string; data: { index: number; embedding: number[] }[] };
    assert.equal(body.dim, 64);
    assert.equal(body.pool, 'cls+mean');
    const expected = await embedImages(await VisionModel.load(modelDir), [files[0], files[4]], { pool: 'cls+mean' });
    body.data.forEach((d, i) => d.embedding.forEach((x, j) => assert.ok(Math.abs(x - expected[i][j]) < 1e-6)));
  });

  test('POST /v1/images/search finds an indexed image first', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/images/search', payload: { image: b64(files[2]), k: 3 } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { results: { path: string; score: number }[] };
    assert.equal(body.results.length, 3);
    // Named relative to the server's image root: no absolute path, no file metadata leaves the server.
    assert.equal(body.results[0].path, 'train/warm/2.png');
    assert.deepEqual(Object.keys(body.results[0]).sort(), ['path', 'score']);
    assert.ok(Math.abs(body.results[0].score - 1) < 1e-5);
  });

  test('POST /v1/images/classify labels training images with their own class (k-NN and linear)', async () => {
    for (const method of ['knn', 'linear']) {
      const res = await app.inject({ method: 'POST', url: '/v1/images/classify', payload: { images: [b64(files[1]), b64(files[5])], method, k: 1 } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { classes: string[]; predictions: { label: string }[] };
      assert.deepEqual(body.classes, ['cool', 'warm']);
      if (method === 'knn') assert.deepEqual(body.predictions.map((p) => p.label), ['warm', 'cool']);
      else assert.equal(body.predictions.length, 2);
    }
  });

  test('POST /v1/images/search finds images indexed after the server opened its index', async () => {
    const before = await app.inject({ method: 'POST', url: '/v1/images/search', payload: { image: b64(files[0]), k: 1 } });
    assert.equal(before.statusCode, 200, before.body);
    // Another writer (as `moxing index` would be) adds a folder while the server holds the index open.
    const later = join(tmp.dir, 'later');
    mkdirSync(later);
    const added = await writePicture(join(later, 'new.png'), 17, 96, 96);
    const model = await VisionModel.load(modelDir);
    const writer = HnswIndex.open(join(tmp.dir, 'index'));
    await indexImages(model, later, writer);
    await writer.close();
    const res = await app.inject({ method: 'POST', url: '/v1/images/search', payload: { image: b64(added), k: 1 } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((res.json() as { results: { path: string }[] }).results[0].path, 'later/new.png');
  });

  test('POST /v1/images/classify at temperatures 0.001 and 1e-6 answers finite shares (not null) and a consistent label', async () => {
    for (const temperature of [0.001, 1e-6]) {
      const payload = { images: [b64(files[1]), b64(files[5])], method: 'knn', k: 6, temperature };
      const res = await app.inject({ method: 'POST', url: '/v1/images/classify', payload });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { predictions: { label: string; scores: { label: string; score: number | null }[] }[] };
      for (const p of body.predictions) {
        assert.ok(p.scores.every((s) => typeof s.score === 'number' && Number.isFinite(s.score)), JSON.stringify(p.scores));
        assert.ok(Math.abs(p.scores.reduce((a, s) => a + (s.score as number), 0) - 1) < 1e-6);
        assert.equal(p.label, p.scores[0].label);
      }
      // At 1e-6 the nearest neighbour (the image itself) outweighs the rest: its own class.
      if (temperature === 1e-6) assert.deepEqual(body.predictions.map((p) => p.label), ['warm', 'cool']);
    }
  });

  test('an index that cannot be opened answers 503 UNAVAILABLE, without its path or content', async () => {
    const broken = join(tmp.dir, 'broken-index');
    mkdirSync(broken);
    writeFileSync(join(broken, 'index.sqlite'), 'SECRET-CONTENT '.repeat(400));
    const server = await buildApp({ images: { model: modelDir, index: broken } });
    try {
      const res = await server.inject({ method: 'POST', url: '/v1/images/search', payload: { image: b64(files[0]) } });
      assert.equal(res.statusCode, 503, res.body);
      const { error } = res.json() as { error: { code: string; message: string } };
      assert.equal(error.code, 'UNAVAILABLE');
      assert.ok(!error.message.includes('SECRET'), error.message);
    } finally {
      await server.close();
    }
  });

  test('bad requests answer 4xx with { error: { code, message } }', async () => {
    const cases: [unknown, number, string][] = [
      [{}, 400, 'BAD_ARGUMENT'],
      [{ images: ['%%% not base64 %%%'] }, 400, 'BAD_ARGUMENT'],
      [{ images: [Buffer.from('not an image at all').toString('base64')] }, 400, 'IMAGE_INVALID'],
      [{ images: [''] }, 400, 'BAD_ARGUMENT'],
      [{ images: [b64(files[0])], pool: 'max' }, 400, 'BAD_ARGUMENT'],
      [{ images: [b64(files[0])], model: 'dinov2-giant' }, 404, 'MODEL_UNKNOWN'],
    ];
    for (const [payload, status, code] of cases) {
      const res = await app.inject({ method: 'POST', url: '/v1/images/embeddings', payload: payload as object });
      assert.equal(res.statusCode, status, `${JSON.stringify(payload).slice(0, 60)}: ${res.body}`);
      const body = res.json() as { error: { code: string; message: string } };
      assert.equal(body.error.code, code, body.error.message);
      assert.ok(body.error.message.length > 10);
    }
    const noIndex = await buildApp({ images: { model: modelDir } });
    const res = await noIndex.inject({ method: 'POST', url: '/v1/images/search', payload: { image: b64(files[0]) } });
    assert.equal(res.statusCode, 404);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'NOT_FOUND');
    await noIndex.close();
  });
});
