import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findDuplicates, HnswIndex } from '../../src/vectors/index.js';
import { embedImages, indexAttributes, indexImages, VisionModel, type IndexReport } from '../../src/vision/index.js';
import { models, tempDir, writePicture } from './fixtures.js';

describe('incremental image indexing', () => {
  const tmp = tempDir();
  const photos = join(tmp.dir, 'photos');
  const indexDir = join(tmp.dir, 'index');
  let model: VisionModel;
  const run = async (): Promise<IndexReport> => {
    const index = HnswIndex.open(indexDir, { dim: 32, attributes: indexAttributes(model, 'cls') });
    try {
      return await indexImages(model, photos, index, { batchSize: 3 });
    } finally {
      await index.close();
    }
  };

  before(async () => {
    model = await VisionModel.load(models.dinov2());
    mkdirSync(join(photos, 'sub', '.hidden'), { recursive: true });
    for (let i = 0; i < 5; i++) await writePicture(join(photos, `p${i}.png`), i, 160, 120);
    await writePicture(join(photos, 'sub', 'deep.jpg'), 9, 120, 160);
    await writePicture(join(photos, 'sub', '.hidden', 'skipped.png'), 10, 64, 64);
    writeFileSync(join(photos, 'readme.txt'), 'not an image');
  });
  after(tmp.cleanup);

  test('first run embeds every image (recursively, hidden folders skipped)', async () => {
    const report = await run();
    assert.deepEqual([report.added, report.updated, report.removed, report.unchanged], [6, 0, 0, 0]);
    assert.equal(report.failed.length, 0);
  });

  test('second run embeds nothing', async () => {
    const report = await run();
    assert.deepEqual([report.added, report.updated, report.removed, report.unchanged], [0, 0, 0, 6]);
    assert.equal(report.embedded.length, 0);
  });

  test('only new or changed files are embedded again; deleted files leave; touched-but-equal files are not re-embedded', async () => {
    await writePicture(join(photos, 'p1.png'), 21, 160, 120); // changed content
    await writePicture(join(photos, 'new.webp'), 22, 100, 100); // new
    rmSync(join(photos, 'p2.png')); // deleted
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(photos, 'p3.png'), later, later); // same bytes, new mtime
    const report = await run();
    assert.deepEqual(report.embedded.map((p) => p.slice(photos.length + 1)).sort(), ['new.webp', 'p1.png']);
    assert.deepEqual([report.added, report.updated, report.removed, report.unchanged], [1, 1, 1, 4]);
    assert.equal((await run()).embedded.length, 0, 'the touched file is now up to date');
  });

  test('the stored vector is the fresh embedding, and each image is its own nearest neighbour', async () => {
    const index = HnswIndex.open(indexDir);
    try {
      assert.deepEqual(await index.attributes(), { model: model.info.ref, pool: 'cls', normalize: 'true' });
      const path = join(photos, 'p1.png');
      const [fresh] = await embedImages(model, [path]);
      const stored = await index.get(path);
      assert.ok(stored);
      assert.deepEqual(stored.vector, fresh);
      assert.equal((stored.metadata as { width: number }).width, 160);
      for (const { key } of await index.list()) {
        const record = await index.get(key);
        const [hit] = await index.search(record!.vector, 1);
        assert.ok(Math.abs(hit.score - 1) < 1e-5);
        assert.equal((await index.get(hit.key))!.vector.every((v, i) => Math.abs(v - record!.vector[i]) < 1e-6), true);
      }
    } finally {
      await index.close();
    }
  });

  test('a copy of an image is found as its duplicate', async () => {
    copyFileSync(join(photos, 'p4.png'), join(photos, 'sub', 'copy-of-p4.png'));
    await run();
    const index = HnswIndex.open(indexDir);
    try {
      const groups = await findDuplicates(index, { threshold: 0.9999 });
      const group = groups.find((g) => g.keys.some((k) => k.endsWith('copy-of-p4.png')));
      assert.ok(group, 'the copy is grouped');
      assert.ok(group.keys.some((k) => k.endsWith('/p4.png')));
    } finally {
      await index.close();
    }
  });

  test('an index built with another model or pooling is refused', () => {
    assert.throws(() => HnswIndex.open(indexDir, { dim: 32, attributes: { model: 'dinov2-base', pool: 'cls' } }), /built with model/);
    assert.throws(() => HnswIndex.open(indexDir, { dim: 64 }), /32-d vectors, not 64-d/);
  });
});
