import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  DINOV2_PROCESSOR,
  loadImage,
  preprocess,
  preprocessDense,
  processorFromConfig,
  resizePixels,
  shortestEdgeSize,
} from '../../src/vision/index.js';
import { vitPreprocessorConfig } from '../models/vit.js';
import { REFERENCE_DIR, picture, tempDir, writePicture } from './fixtures.js';

interface ReferenceItem {
  image: string;
  tensor: string;
  shape: number[];
  source_size: [number, number];
  resized_size: [number, number];
  crop_top_left: [number, number];
}

const manifest = JSON.parse(readFileSync(join(REFERENCE_DIR, 'manifest.json'), 'utf8')) as { items: ReferenceItem[]; mean: number[]; std: number[] };

describe('DINOv2 preprocessing parity with Hugging Face (PIL bicubic)', () => {
  for (const item of manifest.items) {
    test(item.image, async () => {
      const image = await loadImage(join(REFERENCE_DIR, item.image));
      assert.deepEqual([image.width, image.height], item.source_size);
      assert.deepEqual(Object.values(shortestEdgeSize(image.width, image.height, 256)), item.resized_size);
      const px = preprocess(image, processorFromConfig(vitPreprocessorConfig('dinov2')));
      assert.deepEqual([3, px.height, px.width], item.shape);
      const bytes = readFileSync(join(REFERENCE_DIR, item.tensor));
      const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      let sum = 0;
      let max = 0;
      for (let i = 0; i < expected.length; i++) {
        const d = Math.abs(expected[i] - px.data[i]);
        sum += d;
        max = Math.max(max, d);
      }
      // The bound is mean <= 0.01, max <= 0.15; Pillow's algorithm re-implemented gives float rounding only.
      assert.ok(sum / expected.length <= 1e-6, `mean abs error ${sum / expected.length}`);
      assert.ok(max <= 1e-5, `max abs error ${max}`);
    });
  }
});

describe('processor configs', () => {
  test('DINOv2 (BitImageProcessor) config', () => {
    const p = processorFromConfig(vitPreprocessorConfig('dinov2'));
    assert.deepEqual(p.resize, { shortestEdge: 256 });
    assert.deepEqual(p.crop, { height: 224, width: 224 });
    assert.equal(p.resample, 'bicubic');
    assert.ok(Math.abs((p.rescaleFactor ?? 0) - 1 / 255) < 1e-12);
    assert.deepEqual(p.normalize?.mean, manifest.mean.map((m) => Number(m.toFixed(3))));
  });

  test('DINO v1 (ViTFeatureExtractor) config: square bilinear resize, no crop', () => {
    const p = processorFromConfig(vitPreprocessorConfig('dino'));
    assert.deepEqual(p.resize, { height: 224, width: 224 });
    assert.equal(p.crop, null);
    assert.equal(p.resample, 'bilinear');
    const px = preprocess({ width: 300, height: 100, data: new Uint8Array(300 * 100 * 3).fill(128) }, p);
    assert.deepEqual([px.width, px.height], [224, 224]);
  });

  test('ViTImageProcessor with size {height, width} and do_center_crop false', () => {
    const p = processorFromConfig({ image_processor_type: 'ViTImageProcessor', size: { height: 448, width: 448 }, do_center_crop: false, resample: 3 });
    assert.deepEqual(p.resize, { height: 448, width: 448 });
    assert.equal(p.crop, null);
  });

  test('a bad resample code or size is a CONFIG_INVALID error', () => {
    assert.throws(() => processorFromConfig({ resample: 9 }), { code: 'CONFIG_INVALID' });
    assert.throws(() => processorFromConfig({ size: 'big' }), { code: 'CONFIG_INVALID' });
  });
});

describe('resampling', () => {
  const width = 97;
  const height = 61;
  const src = Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + (i >> 5) * 11) % 256);

  test('computing only a region equals resizing then cropping', () => {
    for (const filter of ['bicubic', 'bilinear', 'lanczos', 'box', 'hamming', 'nearest'] as const) {
      const full = resizePixels(src, width, height, 3, 150, 90, filter);
      const region = { left: 13, top: 7, width: 100, height: 64 };
      const part = resizePixels(src, width, height, 3, 150, 90, filter, region);
      for (let y = 0; y < region.height; y++) {
        const a = full.subarray(((y + region.top) * 150 + region.left) * 3, ((y + region.top) * 150 + region.left + region.width) * 3);
        assert.deepEqual(part.subarray(y * region.width * 3, (y + 1) * region.width * 3), a, `${filter} row ${y}`);
      }
    }
  });

  test('a constant image stays constant under every filter', () => {
    const flat = new Uint8Array(40 * 30 * 3).fill(77);
    for (const filter of ['bicubic', 'bilinear', 'lanczos', 'box', 'hamming', 'nearest'] as const) {
      assert.ok(resizePixels(flat, 40, 30, 3, 23, 71, filter).every((v) => v === 77), filter);
    }
  });

  test('sizes must be whole and positive', () => {
    assert.throws(() => resizePixels(src, width, height, 3, 0, 10, 'bicubic'), { code: 'BAD_ARGUMENT' });
  });
});

describe('dense (no-crop) preprocessing', () => {
  test('keeps the aspect ratio and rounds both sides to whole patches', () => {
    const image = { width: 400, height: 300, data: new Uint8Array(400 * 300 * 3).fill(9) };
    const px = preprocessDense(image, DINOV2_PROCESSOR, 14, 224);
    assert.equal(px.height % 14, 0);
    assert.equal(px.width % 14, 0);
    assert.equal(px.height, 224);
    assert.equal(px.width, 14 * Math.round((400 * (224 / 300)) / 14));
    assert.equal(px.data.length, 3 * px.height * px.width);
  });
});

describe('image loading', () => {
  const tmp = tempDir();
  after(tmp.cleanup);

  test('jpeg, png, webp, gif, avif and tiff decode to RGB of the right size', async () => {
    for (const ext of ['jpg', 'png', 'webp', 'gif', 'avif', 'tiff']) {
      const path = await writePicture(join(tmp.dir, `p.${ext}`), 3, 120, 80);
      const image = await loadImage(path);
      assert.deepEqual([image.width, image.height, image.data.length], [120, 80, 120 * 80 * 3], ext);
    }
    // Lossless formats decode to exactly the rendered pixels.
    const raw = await (await picture(3, 120, 80)).removeAlpha().raw().toBuffer();
    assert.deepEqual((await loadImage(join(tmp.dir, 'p.png'))).data, new Uint8Array(raw));
  });

  test('EXIF orientation is applied', async () => {
    const path = join(tmp.dir, 'rotated.jpg');
    await (await picture(1, 120, 80)).jpeg().withMetadata({ orientation: 6 }).toFile(path);
    const image = await loadImage(path);
    assert.deepEqual([image.width, image.height], [80, 120]);
  });

  test('grayscale becomes three equal channels; alpha is dropped', async () => {
    const gray = await loadImage(join(REFERENCE_DIR, 'gray_180x180.png'));
    for (let i = 0; i < gray.data.length; i += 3) {
      assert.ok(gray.data[i] === gray.data[i + 1] && gray.data[i] === gray.data[i + 2]);
    }
    const rgba = await sharp({ create: { width: 4, height: 2, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } }).png().toBuffer();
    const image = await loadImage(rgba);
    assert.deepEqual(Array.from(image.data.subarray(0, 3)), [10, 20, 30]);
  });

  test('animated gif gives its first frame', async () => {
    const frame = (r: number, b: number) => sharp({ create: { width: 4, height: 4, channels: 3, background: { r, g: 0, b } } }).png().toBuffer();
    const gif = await sharp([await frame(200, 0), await frame(0, 200)], { join: { animated: true } }).gif().toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 2);
    const first = await loadImage(gif);
    assert.deepEqual([first.width, first.height], [4, 4]);
    assert.deepEqual(Array.from(first.data.subarray(0, 3)), [200, 0, 0]);
  });
});

describe('dense preprocessing of extreme aspect ratios', () => {
  test('the long side is capped at 4x the short edge, so panoramas stay a bounded number of patches', () => {
    const image = { width: 1000, height: 64, data: new Uint8Array(1000 * 64 * 3).fill(50) };
    const px = preprocessDense(image, DINOV2_PROCESSOR, 14, 224);
    assert.equal(px.width, 896);
    assert.equal(px.height, 14 * Math.round((64 * (896 / 1000)) / 14));
  });
});
