/** The training-set cache behind /v1/images/classify: bounded LRU, invalidated when the folder's images change. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { TrainingSetCache, VisionModel, type LabeledVectors } from '../../src/vision/index.js';
import { MoxingError } from '../../src/errors.js';
import { models, tempDir, writePicture } from './fixtures.js';

describe('TrainingSetCache', () => {
  const tmp = tempDir();
  let model: VisionModel;
  const dirs: string[] = [];

  /** DIR/<a|b>/<i>.png, two tiny images per class. */
  async function trainingDir(name: string, seed: number): Promise<string> {
    const dir = join(tmp.dir, name);
    for (const [k, cls] of ['a', 'b'].entries()) {
      mkdirSync(join(dir, cls), { recursive: true });
      for (let i = 0; i < 2; i++) await writePicture(join(dir, cls, `${i}.png`), seed + k * 2 + i, 48, 48);
    }
    return dir;
  }

  before(async () => {
    model = await VisionModel.load(models.dinov2());
    for (const [i, name] of ['one', 'two', 'three'].entries()) dirs.push(await trainingDir(name, i * 10));
  });
  after(async () => {
    await model?.close();
    tmp.cleanup();
  });

  test('reuses the features while the folder is unchanged, re-embeds when a file changes, is added or removed', async () => {
    const cache = new TrainingSetCache();
    const dir = await trainingDir('changing', 40);
    const first = await cache.features(model, dir, 'cls');
    assert.equal(first.vectors.length, 4);
    assert.deepEqual(first.labels, ['a', 'a', 'b', 'b']);
    assert.equal(await cache.features(model, dir, 'cls'), first);

    // Same name, new content and a new mtime.
    await writePicture(join(dir, 'a', '0.png'), 99, 48, 48);
    utimesSync(join(dir, 'a', '0.png'), new Date(2001, 0, 1), new Date(2001, 0, 1));
    const changed = await cache.features(model, dir, 'cls');
    assert.notEqual(changed, first);
    assert.notDeepEqual(Array.from(changed.vectors[0]), Array.from(first.vectors[0]));
    assert.deepEqual(Array.from(changed.vectors[3]), Array.from(first.vectors[3]));

    await writePicture(join(dir, 'b', '2.png'), 7, 48, 48);
    const added = await cache.features(model, dir, 'cls');
    assert.deepEqual(added.labels, ['a', 'a', 'b', 'b', 'b']);

    rmSync(join(dir, 'a', '1.png'));
    const removed = await cache.features(model, dir, 'cls');
    assert.deepEqual(removed.labels, ['a', 'b', 'b', 'b']);
    assert.equal(cache.size, 1, 'one folder, one entry whatever its history');
  });

  test('holds at most `capacity` sets and drops the least recently used', async () => {
    const cache = new TrainingSetCache({ capacity: 2 });
    const [one, two, three] = dirs;
    const a1 = await cache.features(model, one, 'cls');
    const b1 = await cache.features(model, two, 'cls');
    assert.equal(await cache.features(model, one, 'cls'), a1, 'a hit makes "one" the most recent');
    const c1 = await cache.features(model, three, 'cls');
    assert.equal(cache.size, 2);
    assert.equal(await cache.features(model, one, 'cls'), a1, '"one" survived');
    assert.equal(await cache.features(model, three, 'cls'), c1, '"three" survived');
    const b2: LabeledVectors = await cache.features(model, two, 'cls');
    assert.notEqual(b2, b1, '"two" was evicted and embedded again');
    assert.deepEqual(b2, b1);
    assert.equal(cache.size, 2);
    // Pooling is part of the key.
    const mean = await cache.features(model, two, 'mean');
    assert.notDeepEqual(Array.from(mean.vectors[0]), Array.from(b2.vectors[0]));
  });

  test('classifiers with other k-NN settings share the embedded folder; failures are not cached', async () => {
    const cache = new TrainingSetCache();
    let embedded = 0;
    const onProgress = (done: number, total: number): void => {
      if (done === total) embedded++;
    };
    const knn3 = await cache.classifier(model, dirs[0], { knn: { k: 3 }, onProgress });
    const knn1 = await cache.classifier(model, dirs[0], { knn: { k: 1, temperature: 0.5 }, onProgress });
    assert.equal(embedded, 1);
    const own = (await cache.features(model, dirs[0], 'cls')).vectors[2];
    assert.equal(knn1.predict(own).label, 'b');
    assert.deepEqual(knn3.classes, ['a', 'b']);
    const linear = await cache.classifier(model, dirs[0], { method: 'linear', onProgress });
    assert.equal(await cache.classifier(model, dirs[0], { method: 'linear', onProgress }), linear, 'the probe is trained once');
    assert.equal(embedded, 2, 'cls+mean features for the probe, once');

    await assert.rejects(cache.classifier(model, join(tmp.dir, 'missing')), (e: unknown) => e instanceof MoxingError && e.code === 'FILE_NOT_FOUND');
    await assert.rejects(cache.classifier(model, dirs[0], { knn: { k: 0 } }), /k must be a whole number/);
    assert.equal(cache.size, 2);
    assert.throws(() => new TrainingSetCache({ capacity: 0 }), /capacity/);
  });
});
