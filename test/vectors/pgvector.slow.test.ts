/**
 * The pgvector adapter against a real Postgres with the real pgvector extension: PGlite (Postgres compiled to
 * WASM) served on 127.0.0.1 over the Postgres wire protocol by pglite-socket, so the adapter talks to it through
 * `pg` exactly as to a server. Started and stopped by this test; no system service needed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { exactSearch, findDuplicates, isPostgresUrl, openVectorIndex, PgVectorIndex } from '../../src/vectors/index.js';
import { randomVectors } from './random.js';

describe('pgvector adapter (PGlite over the wire protocol)', () => {
  let db: PGlite;
  let server: PGLiteSocketServer;
  let url = '';
  const dim = 16;
  const vectors = randomVectors(11, 300, dim);

  before(async () => {
    db = await PGlite.create({ extensions: { vector } });
    // Several connections: a closing pool's socket may linger while the next test connects.
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 });
    await server.start();
    // PGlite runs one query at a time, so one client per pool is all the adapter gets to use.
    url = `postgresql://postgres@127.0.0.1:${(server as unknown as { port: number }).port}/postgres`;
  });
  after(async () => {
    await server?.stop();
    await db?.close();
  });

  const open = (options: Parameters<typeof PgVectorIndex.open>[1] = {}) =>
    PgVectorIndex.open({ connectionString: url, max: 1 }, { table: 'test_vectors', ...options });

  test('creates its table, and every inserted vector is its own nearest neighbour', async () => {
    assert.ok(isPostgresUrl(url));
    const index = await open({ dim, attributes: { model: 'test', pool: 'cls' } });
    await index.upsert(vectors.map((v, i) => ({ key: `v${i}`, vector: v, metadata: { i } })));
    assert.equal(await index.count(), vectors.length);
    for (let i = 0; i < vectors.length; i += 23) {
      const [hit] = await index.search(vectors[i], 1);
      assert.equal(hit.key, `v${i}`);
      assert.ok(Math.abs(hit.score - 1) < 1e-5);
      assert.deepEqual(hit.metadata, { i });
    }
    await index.close();
  });

  test('results match exact search; state persists across connections', async () => {
    const index = await open();
    assert.equal(index.dim, dim);
    assert.deepEqual(await index.attributes(), { model: 'test', pool: 'cls' });
    const packed = new Float32Array(vectors.length * dim);
    vectors.forEach((v, i) => packed.set(v, i * dim));
    const query = randomVectors(3, 1, dim)[0];
    const hits = await index.search(query, 5);
    const truth = exactSearch(packed, dim, query, 5);
    assert.deepEqual(hits.map((h) => h.key), truth.map((t) => `v${t.index}`));
    hits.forEach((h, i) => assert.ok(Math.abs(h.score - truth[i].score) < 1e-5));
    const stored = await index.get('v7');
    assert.ok(stored);
    stored.vector.forEach((x, j) => assert.ok(Math.abs(x - vectors[7][j]) < 1e-6));
    await index.close();
  });

  test('upsert replaces, remove deletes, list is in key order', async () => {
    const index = await open({ dim });
    await index.upsert([{ key: 'v0', vector: vectors[1], metadata: { moved: true } }]);
    assert.equal(await index.remove(['v1', 'nope']), 1);
    const [hit] = await index.search(vectors[1], 1);
    assert.deepEqual([hit.key, hit.metadata], ['v0', { moved: true }]);
    assert.equal(await index.get('v1'), null);
    const keys = (await index.list()).map((e) => e.key);
    assert.deepEqual(keys, [...keys].sort());
    assert.equal(keys.length, vectors.length - 1);
    await index.close();
  });

  test('the same interface as the embedded index: duplicates work unchanged', async () => {
    const index = await openVectorIndex(url, { table: 'dup_vectors', dim: 2 });
    await index.upsert([
      { key: 'a', vector: Float32Array.from([1, 0]) },
      { key: 'a-copy', vector: Float32Array.from([1, 0.001]) },
      { key: 'b', vector: Float32Array.from([0, 1]) },
    ]);
    assert.deepEqual((await findDuplicates(index, { threshold: 0.999 })).map((g) => g.keys), [['a', 'a-copy']]);
    await index.close();
  });

  test('mismatched dimension or attributes, a missing table and bad names are clear errors', async () => {
    await assert.rejects(open({ dim: 8 }), /16-d vectors, not 8-d/);
    await assert.rejects(open({ attributes: { model: 'other' } }), /built with model "test"/);
    await assert.rejects(PgVectorIndex.open({ connectionString: url, max: 1 }, { table: 'never_created' }), { code: 'NOT_FOUND' });
    await assert.rejects(PgVectorIndex.open(url, { table: 'Bad-Name' }), { code: 'BAD_ARGUMENT' });
  });

  // Last: it stops the server.
  test('a Postgres that goes away after the open is UNAVAILABLE, and the process survives it', async () => {
    const index = await PgVectorIndex.open(url.replace('postgres@', 'postgres:S3cret@'), { table: 'test_vectors' });
    assert.ok((await index.count()) > 0);
    await server.stop();
    await assert.rejects(index.search(vectors[0], 3), (error: { code: string; message: string }) => {
      assert.equal(error.code, 'UNAVAILABLE');
      assert.ok(!error.message.includes('S3cret'), error.message);
      return true;
    });
    await assert.rejects(index.count(), { code: 'UNAVAILABLE' });
    await index.close();
  });
});
