import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MoxingError } from '../../src/errors.js';
import { HnswIndex } from '../../src/vectors/index.js';
import { embedImages, indexImages, listLabeledImages, loadImage, requireImages, VisionModel } from '../../src/vision/index.js';
import { models, tempDir, writePicture } from './fixtures.js';

/** Asserts a MoxingError with `code` whose message names `mention`. */
async function rejectsWith(promise: Promise<unknown>, code: string, mention: string | RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof MoxingError, `expected a MoxingError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, typeof mention === 'string' ? new RegExp(mention.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : mention);
    return true;
  });
}

describe('bad inputs give clear errors', () => {
  const tmp = tempDir();
  let good = '';
  before(async () => {
    good = await writePicture(join(tmp.dir, 'good.jpg'), 1);
  });
  after(tmp.cleanup);

  test('missing file: FILE_NOT_FOUND naming the path', async () => {
    await rejectsWith(loadImage(join(tmp.dir, 'nope.jpg')), 'FILE_NOT_FOUND', 'nope.jpg');
  });

  test('zero-byte file and empty buffer: FILE_EMPTY', async () => {
    const empty = join(tmp.dir, 'empty.png');
    writeFileSync(empty, '');
    await rejectsWith(loadImage(empty), 'FILE_EMPTY', 'empty.png');
    await rejectsWith(loadImage(new Uint8Array(0)), 'FILE_EMPTY', '0 bytes');
  });

  test('corrupt image (random bytes, truncated jpeg): IMAGE_INVALID', async () => {
    const junk = join(tmp.dir, 'junk.jpg');
    writeFileSync(junk, Buffer.from('definitely not an image, just some text'));
    await rejectsWith(loadImage(junk), 'IMAGE_INVALID', 'junk.jpg');
    const truncated = join(tmp.dir, 'truncated.jpg');
    const bytes = readFileSync(good);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejectsWith(loadImage(truncated), 'IMAGE_INVALID', 'truncated.jpg');
  });

  test('unsupported type (SVG): IMAGE_INVALID naming the supported types', async () => {
    const svg = join(tmp.dir, 'vector.svg');
    writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await rejectsWith(loadImage(svg), 'IMAGE_INVALID', /unsupported type \(svg\).*JPEG, PNG/);
  });

  test('a folder given as an image: BAD_ARGUMENT', async () => {
    await rejectsWith(loadImage(tmp.dir), 'BAD_ARGUMENT', 'is a folder');
  });

  test('folder without images: BAD_ARGUMENT saying what was looked for', async () => {
    const dir = join(tmp.dir, 'no-images');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    await rejectsWith(requireImages(dir), 'BAD_ARGUMENT', /no images found.*\.jpg/);
    await rejectsWith(listLabeledImages(dir), 'BAD_ARGUMENT', 'no labelled images');
    await rejectsWith(requireImages(join(tmp.dir, 'missing-dir')), 'FILE_NOT_FOUND', 'missing-dir');
  });

  test('training folder without class subfolders: BAD_ARGUMENT explaining the layout', async () => {
    const dir = join(tmp.dir, 'flat');
    mkdirSync(dir);
    await writePicture(join(dir, 'a.png'), 2, 64, 64);
    await rejectsWith(listLabeledImages(dir), 'BAD_ARGUMENT', 'subfolder named after the class');
  });

  test('embedding a corrupt file fails with the file named; indexing skips it and reports why', async () => {
    const model = await VisionModel.load(models.dinov2());
    const dir = join(tmp.dir, 'mixed');
    mkdirSync(dir);
    await writePicture(join(dir, 'ok.png'), 3, 64, 64);
    writeFileSync(join(dir, 'broken.jpg'), Buffer.from('garbage'));
    await rejectsWith(embedImages(model, [join(dir, 'broken.jpg')]), 'IMAGE_INVALID', 'broken.jpg');
    const index = HnswIndex.open(join(tmp.dir, 'idx'), { dim: 32 });
    const report = await indexImages(model, dir, index);
    await index.close();
    assert.equal(report.added, 1);
    assert.equal(report.failed.length, 1);
    assert.match(report.failed[0].path, /broken\.jpg$/);
  });

  test('model folder problems: MODEL_UNKNOWN / MODEL_INVALID', async () => {
    await rejectsWith(VisionModel.load(join(tmp.dir, 'no-such-model')), 'MODEL_UNKNOWN', 'no-such-model');
    const dir = join(tmp.dir, 'empty-model');
    mkdirSync(dir);
    await rejectsWith(VisionModel.load(dir), 'MODEL_INVALID', 'onnx/model.onnx');
  });
});
