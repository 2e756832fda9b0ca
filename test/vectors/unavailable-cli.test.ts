/**
 * `moxing search` / `moxing index` with an unreachable Postgres: exit 1 (not 2, the bad-argument code), one
 * line on stderr, no password. In a file of its own: the in-process harness captures process.stdout, which
 * is also where node's test runner streams the results of this file's other tests.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertOneLineError } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { models, tempDir, writePicture } from '../vision/fixtures.js';

/** Port 1 on loopback: nothing listens, the connection is refused at once. */
const URL_WITH_PASSWORD = 'postgres://moxing:S3cretPassw0rd@127.0.0.1:1/x';
const tmp = tempDir('moxing-unavailable-cli-');
after(() => tmp.cleanup());

test('moxing search and moxing index with an unreachable Postgres exit 1 with one line, without the password', async () => {
  const search = await runMoxingInProcess(['search', 'query.jpg', '--index', URL_WITH_PASSWORD]);
  assertOneLineError(search, /^moxing: pgvector: cannot reach or set up table moxing_vectors \(.*ECONNREFUSED.*\)/, 1);
  assert.ok(!search.stderr.includes('S3cretPassw0rd'), search.stderr);

  const photos = join(tmp.dir, 'photos');
  mkdirSync(photos);
  await writePicture(join(photos, 'p0.jpg'), 0, 64, 48);
  const index = await runMoxingInProcess(['index', photos, '--index', URL_WITH_PASSWORD, '-m', models.dinov2()]);
  assertOneLineError(index, /^moxing: pgvector: cannot reach/, 1);
  assert.ok(!index.stderr.includes('S3cretPassw0rd'), index.stderr);
});
