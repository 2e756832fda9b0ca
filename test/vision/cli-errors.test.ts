/** One-line errors of the image commands, through the real binary, before any model is loaded. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseThreshold } from '../../src/cli/dedupe.js';
import { HnswIndex } from '../../src/vectors/index.js';
import { assertOneLineError, runMoxing } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { tempDir } from './fixtures.js';

const tmp = tempDir('moxing-cli-errors-');
after(() => tmp.cleanup());
const env = { MOXING_OFFLINE: '1', MOXING_CACHE: join(tmp.dir, 'cache') };

test('dedupe --threshold is a cosine similarity in (0, 1]', async () => {
  for (const ok of ['1', '0.5', '1e-3']) assert.equal(parseThreshold(ok), Number(ok));
  for (const bad of ['0', '-0.5', '-1', '1.01', 'NaN', 'nan', '', 'Infinity', 'high']) {
    assert.throws(() => parseThreshold(bad), new RegExp(`--threshold must be a cosine similarity in \\(0, 1\\].*got "${bad}"`), bad);
  }
  // Rejected at parse time: no model load, no indexing of the (missing) folder.
  assertOneLineError(await runMoxingInProcess(['dedupe', join(tmp.dir, 'photos'), '--threshold', '0'], env), /^moxing: --threshold must be a cosine similarity in \(0, 1\], such as 0\.95, got "0"$/, 2);
  assertOneLineError(await runMoxingInProcess(['dedupe', join(tmp.dir, 'photos'), '--threshold', 'NaN'], env), /got "NaN"$/, 2);
});

test('search says how to build the index when it is missing or empty', async () => {
  const missing = join(tmp.dir, 'no-index');
  const gone = await runMoxing(['search', 'query.jpg', '--index', missing], env);
  assertOneLineError(gone, /^moxing: no image index at .*no-index; build one with `moxing index DIR --index .*no-index`$/, 1);

  const empty = join(tmp.dir, 'empty-index');
  await HnswIndex.open(empty, { dim: 4 }).close();
  const run = await runMoxingInProcess(['search', 'query.jpg', '--index', empty], env);
  assertOneLineError(run, /^moxing: the image index at .*empty-index is empty; add images with `moxing index DIR --index .*empty-index`$/, 1);
});

test('embed -o into a path that cannot be a file: one OUTPUT_FAILED line, nothing written', async () => {
  const { models, writePicture } = await import('./fixtures.js');
  const image = await writePicture(join(tmp.dir, 'one.png'), 3, 64, 64);
  const run = await runMoxingInProcess(['embed', image, '-m', models.dinov2(), '--format', 'npy', '-o', '/dev/null/x.npy'], env);
  assertOneLineError(run, /^moxing: cannot write \/dev\/null\/x\.npy: a part of its path is a file, not a folder; nothing was written/, 1);
  assert.doesNotMatch(run.stderr, /unexpected/);
});
