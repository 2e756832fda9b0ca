import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  embedImages,
  embedPixels,
  encodeNpy,
  decodeNpy,
  loadImage,
  patchFeatures,
  poolTokens,
  preprocessFor,
  VisionModel,
  type RgbImage,
} from '../../src/vision/index.js';
import { TINY_DINOV2, TINY_DINOV2_REG } from '../models/vit.js';
import { models, tempDir, writePicture } from './fixtures.js';

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

describe('DINOv2-layout models', () => {
  const tmp = tempDir();
  const paths: string[] = [];
  let plain: VisionModel;
  let withRegisters: VisionModel;
  before(async () => {
    for (let i = 0; i < 5; i++) paths.push(await writePicture(join(tmp.dir, `img${i}.png`), i, 200 + 30 * i, 180));
    plain = await VisionModel.load(models.dinov2());
    withRegisters = await VisionModel.load(models.dinov2Reg());
  });
  after(tmp.cleanup);

  test('configs are read: family, patch size, width, registers, preprocessing, attentions', () => {
    assert.equal(plain.info.family, 'dinov2');
    assert.equal(plain.info.patchSize, 14);
    assert.equal(plain.info.hiddenSize, TINY_DINOV2.hidden);
    assert.equal(plain.info.registers, 0);
    assert.equal(plain.info.fixedSize, null);
    assert.equal(plain.info.attentionsOutput, null);
    assert.deepEqual(plain.info.processor.crop, { height: 224, width: 224 });
    assert.equal(withRegisters.info.registers, TINY_DINOV2_REG.registers);
    assert.equal(withRegisters.info.attentionsOutput, 'attentions');
  });

  test('batch == single: batched embeddings equal one-at-a-time ones', async () => {
    const images = await Promise.all(paths.map((p) => loadImage(p)));
    for (const model of [plain, withRegisters]) {
      const pixels = images.map((image) => preprocessFor(model, image));
      for (const pool of ['cls', 'mean', 'cls+mean'] as const) {
        const batched = await embedPixels(model, pixels, { pool, batchSize: 4 });
        const single = await Promise.all(pixels.map(async (p) => (await embedPixels(model, [p], { pool }))[0]));
        batched.forEach((v, i) => assert.ok(maxDiff(v, single[i]) < 1e-5, `${pool} image ${i}: ${maxDiff(v, single[i])}`));
      }
    }
    // The file pipeline (decode, preprocess, batch with prefetch) gives the same vectors.
    const fromFiles = await embedImages(plain, paths, { pool: 'mean', batchSize: 2 });
    const fromPixels = await embedPixels(plain, images.map((image) => preprocessFor(plain, image)), { pool: 'mean' });
    fromFiles.forEach((v, i) => assert.ok(maxDiff(v, fromPixels[i]) < 1e-5));
  });

  test('pooling: CLS is token 0, mean skips CLS and registers, cls+mean concatenates; L2 norm 1', async () => {
    const model = withRegisters;
    const image = await loadImage(paths[1]);
    const tokens = await model.run([preprocessFor(model, image)]);
    const { hidden, tokens: count, registers } = tokens;
    assert.equal(count, 1 + registers + 16 * 16);
    const cls = tokens.data.slice(0, hidden);
    const mean = new Float32Array(hidden);
    for (let t = 1 + registers; t < count; t++) for (let j = 0; j < hidden; j++) mean[j] += tokens.data[t * hidden + j] / (count - 1 - registers);
    assert.ok(maxDiff(poolTokens(tokens, 0, 'cls'), cls) === 0);
    assert.ok(maxDiff(poolTokens(tokens, 0, 'mean'), mean) < 1e-5);
    // Including the registers would change the mean: the test model's register tokens differ from patches.
    const withRegs = new Float32Array(hidden);
    for (let t = 1; t < count; t++) for (let j = 0; j < hidden; j++) withRegs[j] += tokens.data[t * hidden + j] / (count - 1);
    assert.ok(maxDiff(withRegs, mean) > 1e-4);
    const both = poolTokens(tokens, 0, 'cls+mean');
    assert.equal(both.length, 2 * hidden);
    assert.ok(maxDiff(both.subarray(0, hidden), cls) === 0 && maxDiff(both.subarray(hidden), mean) < 1e-5);

    const [normalized] = await embedImages(model, [paths[1]], { pool: 'cls+mean' });
    assert.ok(Math.abs(norm(normalized) - 1) < 1e-5);
    const [raw] = await embedImages(model, [paths[1]], { pool: 'cls', normalize: false });
    assert.ok(maxDiff(raw, cls) < 1e-6);
  });

  test('different images give different embeddings; the same image the same one', async () => {
    const [a, b, a2] = await embedImages(plain, [paths[0], paths[3], paths[0]], { pool: 'mean' });
    assert.ok(maxDiff(a, a2) === 0);
    assert.ok(maxDiff(a, b) > 1e-3);
  });

  test('patch grid covers the whole image at a multiple of the patch size, registers excluded', async () => {
    const image: RgbImage = await loadImage(paths[4]); // 320x180
    const grid = await patchFeatures(withRegisters, image, { shortEdge: 112 });
    assert.equal(grid.gridHeight, 8);
    assert.equal(grid.gridWidth, Math.round((320 * (112 / 180)) / 14));
    assert.equal(grid.data.length, grid.gridHeight * grid.gridWidth * grid.dim);
    const pixels = preprocessFor(withRegisters, image);
    await assert.rejects(withRegisters.run([pixels, { ...pixels, height: 210, width: 210 }]), { code: 'BAD_ARGUMENT' });
    await assert.rejects(withRegisters.run([{ ...pixels, height: 220, width: 220 }]), { code: 'BAD_ARGUMENT' });
  });

  test('npy round trip of embeddings', async () => {
    const vectors = await embedImages(plain, paths.slice(0, 3));
    const { shape, rows } = decodeNpy(encodeNpy(vectors));
    assert.deepEqual(shape, [3, TINY_DINOV2.hidden]);
    rows.forEach((r, i) => assert.deepEqual(r, vectors[i]));
    assert.equal(encodeNpy(vectors).indexOf(0x0a) % 64, 63); // header ends on a 64-byte boundary
  });
});

describe('DINO v1 layout (fixed 224x224 input)', () => {
  const tmp = tempDir();
  after(tmp.cleanup);

  test('squares the image, and dense features use the fixed size', async () => {
    const model = await VisionModel.load(models.dino());
    assert.equal(model.info.family, 'dino');
    assert.deepEqual(model.info.fixedSize, { height: 224, width: 224 });
    assert.equal(model.info.processor.resample, 'bilinear');
    const path = await writePicture(join(tmp.dir, 'wide.jpg'), 2, 400, 100);
    const [v] = await embedImages(model, [path], { pool: 'cls+mean' });
    assert.equal(v.length, 64);
    const grid = await patchFeatures(model, await loadImage(path));
    assert.deepEqual([grid.gridHeight, grid.gridWidth], [14, 14]);
    await assert.rejects(model.run([{ data: new Float32Array(3 * 112 * 112), height: 112, width: 112, sourceHeight: 1, sourceWidth: 1 }]), { code: 'BAD_ARGUMENT' });
  });
});
