import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { register as classify } from '../../src/cli/classify.js';
import { register as dedupe } from '../../src/cli/dedupe.js';
import { register as embed } from '../../src/cli/embed.js';
import { output } from '../../src/cli/vision-options.js';
import { register as indexCmd } from '../../src/cli/index-cmd.js';
import { register as search } from '../../src/cli/search.js';
import { register as viz } from '../../src/cli/viz.js';
import { decodeNpy } from '../../src/vision/index.js';
import { models, tempDir, writePicture } from './fixtures.js';

/** Runs `moxing ARGS` in-process and returns what it printed on stdout. */
async function moxing(...args: string[]): Promise<string> {
  const program = new Command('moxing').exitOverride();
  for (const register of [embed, indexCmd, search, dedupe, classify, viz]) register(program);
  const chunks: string[] = [];
  const write = output.write;
  output.write = (text) => void chunks.push(String(text));
  try {
    await program.parseAsync(['node', 'moxing', ...args]);
  } finally {
    output.write = write;
  }
  return chunks.join('');
}

describe('vision CLI commands', () => {
  const tmp = tempDir();
  let model = '';
  const photos = join(tmp.dir, 'photos');
  const train = join(tmp.dir, 'train');
  const index = join(tmp.dir, 'index');

  before(async () => {
    model = models.dinov2();
    mkdirSync(join(photos, 'nested'), { recursive: true });
    for (let i = 0; i < 4; i++) await writePicture(join(photos, `p${i}.jpg`), i, 150, 100);
    copyFileSync(join(photos, 'p0.jpg'), join(photos, 'nested', 'p0-copy.jpg'));
    for (const [k, cls] of ['a', 'b'].entries()) {
      mkdirSync(join(train, cls), { recursive: true });
      for (let i = 0; i < 3; i++) await writePicture(join(train, cls, `${i}.png`), 10 + k * 5 + i, 80, 80);
    }
  });
  after(tmp.cleanup);

  test('embed: JSON with one unit vector per image, and .npy', async () => {
    const out = JSON.parse(await moxing('embed', join(photos, 'p0.jpg'), join(photos, 'p1.jpg'), '-m', model, '--pool', 'mean'));
    assert.equal(out.dim, 32);
    assert.equal(out.embeddings.length, 2);
    assert.ok(Math.abs(Math.hypot(...out.embeddings[0].embedding) - 1) < 1e-5);
    const npy = join(tmp.dir, 'e.npy');
    await moxing('embed', join(photos, 'p0.jpg'), join(photos, 'p1.jpg'), '-m', model, '--pool', 'mean', '--format', 'npy', '-o', npy);
    const { shape, rows } = decodeNpy(readFileSync(npy));
    assert.deepEqual(shape, [2, 32]);
    rows[1].forEach((x, j) => assert.ok(Math.abs(x - out.embeddings[1].embedding[j]) < 1e-6));
  });

  test('index (incremental), search and dedupe', async () => {
    const first = JSON.parse(await moxing('index', photos, '-m', model, '--index', index, '--json'));
    assert.deepEqual([first.added, first.unchanged], [5, 0]);
    const second = JSON.parse(await moxing('index', photos, '-m', model, '--index', index, '--json'));
    assert.deepEqual([second.added, second.unchanged], [0, 5]);
    const hits = JSON.parse(await moxing('search', join(photos, 'p2.jpg'), '--index', index, '-k', '2', '--json'));
    assert.equal(hits.length, 2);
    assert.equal(hits[0].path, join(photos, 'p2.jpg'));
    const text = await moxing('search', join(photos, 'p2.jpg'), '--index', index, '-k', '1');
    assert.match(text, /^1\.0000 {2}.*p2\.jpg\n$/);
    const groups = JSON.parse(await moxing('dedupe', photos, '-m', model, '--index', index, '--threshold', '0.99999', '--json'));
    assert.deepEqual(groups.map((g: { paths: string[] }) => g.paths), [[join(photos, 'nested', 'p0-copy.jpg'), join(photos, 'p0.jpg')]]);
  });

  test('classify: k-NN and --linear label training images with their class', async () => {
    const knn = JSON.parse(await moxing('classify', '--train', train, join(train, 'a', '0.png'), join(train, 'b', '2.png'), '-m', model, '-k', '1', '--json'));
    assert.equal(knn.method, 'knn');
    assert.deepEqual(knn.predictions.map((p: { label: string }) => p.label), ['a', 'b']);
    const linear = JSON.parse(await moxing('classify', '--train', train, join(train, 'a', '1.png'), '-m', model, '--linear', '--json'));
    assert.equal(linear.method, 'linear');
    assert.equal(linear.report.trainSize + linear.report.validationSize, 6);
  });

  test('viz pca writes a PNG twice as wide as the image (plus the gutter)', async () => {
    const out = join(tmp.dir, 'pca.png');
    await moxing('viz', 'pca', join(photos, 'p1.jpg'), '-m', model, '-o', out, '--short-edge', '56');
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.width, meta.height], [2 * 150 + 8, 100]);
  });

  test('errors surface as MoxingErrors with their codes', async () => {
    await assert.rejects(moxing('embed', join(photos, 'missing.jpg'), '-m', model), { code: 'FILE_NOT_FOUND' });
    await assert.rejects(moxing('search', join(photos, 'p1.jpg'), '--index', join(tmp.dir, 'no-index')), { code: 'NOT_FOUND' });
    await assert.rejects(moxing('index', join(tmp.dir, 'train', 'a', '0.png'), '-m', model, '--index', index), { code: 'BAD_ARGUMENT' });
  });
});
