import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cosineSimilarity, exactSearch, findDuplicates, HnswIndex, openVectorIndex } from '../../src/vectors/index.js';
import { randomVectors } from './random.js';

describe('embedded HNSW index', () => {
  const root = mkdtempSync(join(tmpdir(), 'moxing-hnsw-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const dim = 48;
  const vectors = randomVectors(7, 1500, dim);
  const dir = join(root, 'idx');

  test('every inserted vector is its own nearest neighbour (score 1)', async () => {
    const index = HnswIndex.open(dir, { dim, attributes: { model: 'test' } });
    await index.upsert(vectors.map((v, i) => ({ key: `v${i}`, vector: v, metadata: { i } })));
    assert.equal(await index.count(), vectors.length);
    for (let i = 0; i < vectors.length; i += 7) {
      const [hit] = await index.search(vectors[i], 1);
      assert.equal(hit.key, `v${i}`);
      assert.ok(Math.abs(hit.score - 1) < 1e-5);
      assert.deepEqual(hit.metadata, { i });
    }
    await index.close();
  });

  test('top-10 agrees with exact search (recall >= 0.95 on random 48-d vectors)', async () => {
    const index = HnswIndex.open(dir);
    const packed = new Float32Array(vectors.length * dim);
    vectors.forEach((v, i) => packed.set(v, i * dim));
    const queries = randomVectors(99, 50, dim);
    let found = 0;
    for (const q of queries) {
      const truth = new Set(exactSearch(packed, dim, q, 10).map((h) => `v${h.index}`));
      const hits = await index.search(q, 10);
      found += hits.filter((h) => truth.has(h.key)).length;
      // Scores are cosine similarities, best first.
      const top = hits[0];
      assert.ok(Math.abs(top.score - cosineSimilarity(q, vectors[Number(top.key.slice(1))])) < 1e-5);
      for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score - 1e-6);
    }
    assert.ok(found / (queries.length * 10) >= 0.95, `recall ${found / (queries.length * 10)}`);
    await index.close();
  });

  test('persistence round trip: reopened index gives identical results without a rebuild', async () => {
    const query = randomVectors(5, 1, dim)[0];
    const first = HnswIndex.open(dir);
    const before = await first.search(query, 10);
    await first.close();
    const graph = join(dir, 'vectors.hnsw');
    assert.ok(existsSync(graph));
    const written = statSync(graph).mtimeMs;
    const reopened = HnswIndex.open(dir);
    assert.deepEqual(await reopened.search(query, 10), before);
    assert.deepEqual((await reopened.get('v3'))?.vector, vectors[3]);
    assert.equal(await reopened.count(), vectors.length);
    await reopened.close();
    assert.equal(statSync(graph).mtimeMs, written, 'the graph was loaded, not rebuilt and rewritten');
  });

  test('updates, removals and re-insertions persist; a lost or stale graph is rebuilt from SQLite', async () => {
    const index = HnswIndex.open(dir);
    await index.upsert([{ key: 'v0', vector: vectors[1], metadata: { moved: true } }]);
    assert.equal(await index.remove(['v1', 'v2', 'missing']), 2);
    await index.upsert([{ key: 'v2', vector: vectors[2] }]);
    await index.close();
    const check = async (idx: HnswIndex): Promise<void> => {
      assert.equal(await idx.count(), vectors.length - 1);
      assert.equal(await idx.get('v1'), null);
      const [hit] = await idx.search(vectors[1], 1);
      assert.deepEqual([hit.key, hit.metadata], ['v0', { moved: true }]);
      assert.equal((await idx.search(vectors[2], 1))[0].key, 'v2');
    };
    const reopened = HnswIndex.open(dir);
    await check(reopened);
    await reopened.close();
    // A crash after a change but before save leaves the database marked dirty: the graph is rebuilt.
    const db = new Database(join(dir, 'index.sqlite'));
    db.prepare("UPDATE meta SET value = '1' WHERE name = 'dirty'").run();
    db.close();
    writeFileSync(join(dir, 'vectors.hnsw'), 'garbage');
    const rebuilt = HnswIndex.open(dir);
    await check(rebuilt);
    await rebuilt.close();
  });

  test('openVectorIndex opens folders; bad vectors and queries are BAD_ARGUMENT', async () => {
    const index = await openVectorIndex(dir);
    assert.equal(index.dim, dim);
    await assert.rejects(index.upsert([{ key: 'x', vector: new Float32Array(3) }]), { code: 'BAD_ARGUMENT' });
    await assert.rejects(index.upsert([{ key: 'x', vector: new Float32Array(dim).fill(Number.NaN) }]), { code: 'BAD_ARGUMENT' });
    await assert.rejects(index.search(vectors[0], 0), { code: 'BAD_ARGUMENT' });
    await index.close();
    assert.throws(() => HnswIndex.open(join(root, 'does-not-exist')), { code: 'NOT_FOUND' });
  });

  test('an empty index answers with no hits; k beyond the count returns everything', async () => {
    const small = HnswIndex.open(join(root, 'small'), { dim: 2 });
    assert.deepEqual(await small.search(Float32Array.from([1, 0]), 5), []);
    await small.upsert([{ key: 'a', vector: Float32Array.from([1, 0]) }, { key: 'b', vector: Float32Array.from([0, 1]) }]);
    assert.deepEqual((await small.search(Float32Array.from([1, 0.2]), 50)).map((h) => h.key), ['a', 'b']);
    await small.close();
  });

  test('a rolled-back remove or upsert leaves the graph, the count and the dirty mark as the table is', async () => {
    const where = join(root, 'rollback');
    const data = randomVectors(11, 20, 8);
    const index = HnswIndex.open(where, { dim: 8 });
    await index.upsert(data.map((v, i) => ({ key: `k${i}`, vector: v })));
    await index.save();
    // A second connection adds triggers that make SQLite abort part-way through a transaction.
    const side = new Database(join(where, 'index.sqlite'));
    side.exec(`CREATE TRIGGER no_delete BEFORE DELETE ON items WHEN OLD.key = 'k5' BEGIN SELECT RAISE(ABORT, 'refused'); END;
               CREATE TRIGGER no_insert BEFORE INSERT ON items WHEN NEW.key = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END;`);
    const dirtyMark = (): string | undefined => side.prepare<[], { value: string }>("SELECT value FROM meta WHERE name = 'dirty'").get()?.value;
    const found = async (i: number): Promise<boolean> => (await index.search(data[i], 1))[0]?.key === `k${i}`;

    // k1 is deleted before k5 aborts the transaction: k1 must still be in the table and findable.
    await assert.rejects(index.remove(['k1', 'k5']), /refused/);
    assert.equal(await index.count(), 20);
    assert.ok(await index.get('k1'));
    assert.ok(await found(1), 'k1 is still searchable');

    // The update of k2 is rolled back with the failed insert: the graph keeps k2's old vector.
    await assert.rejects(index.upsert([{ key: 'k2', vector: data[3] }, { key: 'bad', vector: data[4] }]), /refused/);
    assert.deepEqual(Array.from((await index.get('k2'))!.vector), Array.from(data[2]));
    assert.ok(await found(2));
    assert.equal(await index.count(), 20);
    assert.equal(dirtyMark(), '0', 'nothing committed, still clean');

    // The failures must not leave a "dirty" flag in memory that skips the mark for the next real change.
    side.exec('DROP TRIGGER no_delete; DROP TRIGGER no_insert;');
    assert.equal(await index.remove(['k1']), 1);
    assert.equal(dirtyMark(), '1', 'a committed change marks the table dirty until the graph is saved');
    assert.equal(await index.count(), 19);
    assert.notEqual((await index.search(data[1], 1))[0].key, 'k1');
    await index.close();
    assert.equal(dirtyMark(), '0');
    side.close();
  });
});

describe('near-duplicate groups', () => {
  test('links at the threshold form connected groups; singletons are left out', async () => {
    const root = mkdtempSync(join(tmpdir(), 'moxing-dup-'));
    try {
      const index = HnswIndex.open(root, { dim: 3 });
      const v = (x: number, y: number, z: number) => Float32Array.from([x, y, z]);
      await index.upsert([
        { key: 'a1', vector: v(1, 0, 0) },
        { key: 'a2', vector: v(1, 0.05, 0) },
        { key: 'a3', vector: v(1, 0.1, 0) }, // close to a2, a bit farther from a1: joins through a2
        { key: 'b1', vector: v(0, 1, 0) },
        { key: 'b2', vector: v(0, 1, 0.02) },
        { key: 'c', vector: v(0, 0, 1) },
      ]);
      const groups = await findDuplicates(index, { threshold: 0.998 });
      assert.deepEqual(groups.map((g) => g.keys), [['a1', 'a2', 'a3'], ['b1', 'b2']]);
      assert.ok(groups[0].minScore >= 0.998);
      assert.deepEqual(await findDuplicates(index, { threshold: 0.998 }, ['a1', 'b1', 'c']), []);
      await index.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
