import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { attentionMaps, attentionPicture, loadImage, massMask, pca, pcaPicture, VisionModel, type RgbImage } from '../../src/vision/index.js';
import { models, tempDir, writePicture } from './fixtures.js';

function channelRange(image: RgbImage, c: number): number {
  let lo = 255;
  let hi = 0;
  for (let i = c; i < image.data.length; i += 3) {
    lo = Math.min(lo, image.data[i]);
    hi = Math.max(hi, image.data[i]);
  }
  return hi - lo;
}

describe('PCA', () => {
  test('finds the planted directions of a low-rank cloud, strongest first, orthonormal', () => {
    const dim = 6;
    const rows = 300;
    const data = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      const a = Math.sin(r * 1.7) * 3; // variance along e0 > e2
      const b = Math.cos(r * 0.9) * 1;
      data[r * dim] = a + 5;
      data[r * dim + 2] = b - 1;
      data[r * dim + 4] = 0.01 * Math.sin(r * 3.1);
    }
    const result = pca(data, dim, 2);
    assert.ok(Math.abs(Math.abs(result.components[0]) - 1) < 1e-6);
    assert.ok(Math.abs(Math.abs(result.components[dim + 2]) - 1) < 1e-6);
    assert.ok(result.variances[0] > result.variances[1]);
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += result.components[j] * result.components[dim + j];
    assert.ok(Math.abs(dot) < 1e-9);
    assert.ok(Math.abs(result.mean[0] - 5) < 0.1);
  });
});

describe('pictures', () => {
  const tmp = tempDir();
  let image: RgbImage;
  let plain: VisionModel;
  let withAttentions: VisionModel;
  before(async () => {
    image = await loadImage(await writePicture(join(tmp.dir, 'scene.png'), 4, 300, 180));
    plain = await VisionModel.load(models.dinov2());
    withAttentions = await VisionModel.load(models.dinov2Reg());
  });
  after(tmp.cleanup);

  test("PCA picture: the input's aspect ratio, three non-constant channels, original beside it", async () => {
    for (const removeBackground of [true, false]) {
      const { panel, png } = await pcaPicture(plain, image, { shortEdge: 112, removeBackground });
      assert.equal(panel.width / panel.height, image.width / image.height);
      for (let c = 0; c < 3; c++) assert.ok(channelRange(panel, c) > 20, `channel ${c} is (nearly) constant`);
      const meta = await sharp(png).metadata();
      assert.equal(meta.format, 'png');
      assert.equal(meta.width, 2 * panel.width + 8);
      assert.equal(meta.height, panel.height);
    }
  });

  test('a large image is scaled down to the panel size, keeping its aspect ratio', async () => {
    const big = await loadImage(await writePicture(join(tmp.dir, 'big.png'), 5, 1600, 900));
    const { panel } = await pcaPicture(plain, big, { shortEdge: 112, maxSidePx: 400 });
    assert.deepEqual([panel.width, panel.height], [400, 225]);
  });

  test("attention maps: one per head over the patch grid, CLS row, registers skipped, DINO's mass mask", async () => {
    const maps = await attentionMaps(withAttentions, image, { shortEdge: 112 });
    assert.equal(maps.heads, 2);
    assert.deepEqual([maps.gridHeight, maps.gridWidth], [8, 13]);
    for (const [h, map] of maps.maps.entries()) {
      assert.equal(map.length, 8 * 13);
      const total = map.reduce((a, b) => a + b, 0);
      // Softmax row over CLS + 4 registers + patches: the patch share is below 1 and above 0.
      assert.ok(total > 0 && total < 1, `head ${h} patch mass ${total}`);
      const kept = maps.masks[h].reduce((s, on, i) => s + (on ? map[i] : 0), 0);
      assert.ok(kept / total >= 0.6 - 1e-6, `mask keeps ${kept / total} of the mass`);
    }
    const { png } = await attentionPicture(withAttentions, image, { shortEdge: 112 });
    assert.equal((await sharp(png).metadata()).format, 'png');
    await assert.rejects(attentionMaps(plain, image), { code: 'MODEL_INVALID' });
  });

  test('DINO v1 (fixed 224 input, no registers): a 14x14 grid whose CLS attention over patches sums below 1', async () => {
    const dino = await VisionModel.load(models.dino());
    const maps = await attentionMaps(dino, image);
    assert.deepEqual([maps.heads, maps.gridHeight, maps.gridWidth], [2, 14, 14]);
    for (const map of maps.maps) {
      const total = map.reduce((a, b) => a + b, 0);
      assert.ok(total > 0.5 && total < 1, `patch mass ${total}`); // 1 - (CLS's attention to itself)
    }
    const { panel } = await attentionPicture(dino, image);
    assert.deepEqual([panel.width, panel.height], [image.width, image.height]);
  });

  test('massMask keeps the fewest top patches that hold the mass', () => {
    const map = Float32Array.from([0.1, 0.4, 0.05, 0.3, 0.15]);
    assert.deepEqual(massMask(map, 0.6), [false, true, false, true, false]);
    assert.deepEqual(massMask(map, 0.75), [false, true, false, true, true]);
    assert.deepEqual(massMask(map, 1), [true, true, true, true, true]);
  });
});
