/** The image index as a library: searchIndex and dedupeFolder, the functions the CLI and the server call. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HnswIndex } from '../../src/vectors/index.js';
import { dedupeFolder, embeddingSize, indexAttributes, searchIndex, VisionModel } from '../../src/vision/index.js';
import { isMoxingError } from '../../src/errors.js';
import { models, tempDir, writePicture } from './fixtures.js';

describe('searchIndex and dedupeFolder', () => {
  const tmp = tempDir();
  const photos = join(tmp.dir, 'photos');
  let model: VisionModel;
  const files: string[] = [];

  before(async () => {
    model = await VisionModel.load(models.dinov2());
    mkdirSync(photos);
    for (let i = 0; i < 4; i++) files.push(await writePicture(join(photos, `${i}.png`), 40 + i, 80, 80));
    copyFileSync(files[1], join(photos, 'copy-of-1.png'));
  });
  after(async () => {
    await model.close();
    tmp.cleanup();
  });

  const openIndex = (name: string, pool: 'cls' | 'mean' = 'cls') =>
    HnswIndex.open(join(tmp.dir, name), { dim: embeddingSize(model.info.hiddenSize, pool), attributes: indexAttributes(model, pool) });

  test('dedupeFolder indexes the folder and groups the exact copy with its original, nothing else', async () => {
    const index = openIndex('dedupe', 'mean');
    try {
      const { report, groups } = await dedupeFolder(model, photos, index, { threshold: 0.999, pool: 'mean' });
      assert.equal(report.added, 5);
      assert.equal(groups.length, 1);
      assert.deepEqual(groups[0].keys.map((k) => k.split('/').pop()).sort(), ['1.png', 'copy-of-1.png']);
      // A second run embeds nothing again and finds the same group.
      const again = await dedupeFolder(model, photos, index, { threshold: 0.999, pool: 'mean' });
      assert.equal(again.report.unchanged, 5);
      assert.deepEqual(again.groups, groups);
    } finally {
      await index.close();
    }
  });

  test('searchIndex finds a picture itself first, with the pooling the index records', async () => {
    const index = openIndex('search', 'mean');
    try {
      await dedupeFolder(model, photos, index, { pool: 'mean' });
      const hits = await searchIndex(index, files[2], { k: 2, model });
      assert.equal(hits[0].key, files[2]);
      assert.ok(Math.abs(hits[0].score - 1) < 1e-5);
      assert.equal(hits.length, 2);
    } finally {
      await index.close();
    }
  });

  test('an empty index and a model the index was not built with are clear errors', async () => {
    const empty = openIndex('empty');
    const other = await VisionModel.load(models.dino());
    try {
      await assert.rejects(searchIndex(empty, files[0], { model }), (e) => isMoxingError(e, 'NOT_FOUND') && /empty/.test(e.message));
      await dedupeFolder(model, photos, empty);
      await assert.rejects(searchIndex(empty, files[0], { model: other }), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /built with the model/.test(e.message));
    } finally {
      await empty.close();
      await other.close();
    }
  });
});
