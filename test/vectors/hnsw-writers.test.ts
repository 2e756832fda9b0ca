/**
 * Several handles on one embedded index: two writing processes lose nothing, a reader opened before a write
 * sees it, the writer lock survives a dead owner and times out on a live one, and faults in the files are
 * UNAVAILABLE (5xx), never BAD_ARGUMENT.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import hnswlib from 'hnswlib-node';
import { HnswIndex, openVectorIndex } from '../../src/vectors/index.js';
import { randomVectors } from './random.js';

const writer = new URL('./index-writer.ts', import.meta.url).pathname;
/** Above the kernel's pid_max on Linux: no process has it. */
const DEAD_PID = '4194305';

function runWriter(dir: string, prefix: string, seed: number, count: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, prefix, String(seed), String(count)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** The labels in the saved graph file, read with hnswlib directly. */
function graphLabels(dir: string): number {
  const graph = new hnswlib.HierarchicalNSW('cosine', 8);
  graph.readIndexSync(join(dir, 'vectors.hnsw'));
  return graph.getIdsList().length;
}

describe('embedded index with several handles', () => {
  const root = mkdtempSync(join(tmpdir(), 'moxing-writers-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('two writing processes, creating the index together, interleave: every row is in the saved graph and searchable', async () => {
    const dir = join(root, 'two');
    const runs = await Promise.all([runWriter(dir, 'a', 1, 6), runWriter(dir, 'b', 2, 6)]);
    assert.deepEqual(runs.map((r) => r.code), [0, 0], runs.map((r) => r.stderr).join('\n'));
    assert.equal(graphLabels(dir), 12, 'the saved graph holds all 12 rows');
    const index = HnswIndex.open(dir);
    assert.equal(await index.count(), 12);
    for (const [prefix, seed] of [['a', 1], ['b', 2]] as const) {
      for (const [i, v] of randomVectors(seed, 6, 8).entries()) assert.equal((await index.search(v, 1))[0].key, `${prefix}${i}`);
    }
    await index.close();
    assert.ok(!existsSync(join(dir, 'write.lock')), 'no lock left behind');
  });

  test('opened with a dim while another process is creating it (its database there, no dim yet), the index is created', async () => {
    // The moment between the other process making the database file and writing its dim, held still.
    const dir = join(root, 'half-made');
    mkdirSync(dir);
    new Database(join(dir, 'index.sqlite')).close();
    const index = HnswIndex.open(dir, { dim: 8, attributes: { model: 'm' } });
    await index.upsert([{ key: 'a', vector: randomVectors(7, 1, 8)[0] }]);
    await index.close();
    const reopened = HnswIndex.open(dir, { dim: 8, attributes: { model: 'm' } });
    assert.equal(await reopened.count(), 1);
    await reopened.close();
    // A dim already written is not overwritten: the second opener is told the sizes differ.
    assert.throws(() => HnswIndex.open(dir, { dim: 4 }), /holds 8-d vectors, not 4-d/);
  });

  test('a reader opened before a write sees the new items and count without reopening', async () => {
    const dir = join(root, 'reader');
    const first = randomVectors(3, 4, 8);
    const seed = HnswIndex.open(dir, { dim: 8 });
    await seed.upsert(first.map((v, i) => ({ key: `old${i}`, vector: v })));
    await seed.close();
    const reader = HnswIndex.open(dir);
    assert.equal(await reader.count(), 4);
    const run = await runWriter(dir, 'new', 4, 5);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await reader.count(), 9);
    for (const [i, v] of randomVectors(4, 5, 8).entries()) assert.equal((await reader.search(v, 1))[0].key, `new${i}`);
    assert.ok(reader.refresh() >= 2, 'refresh() names the generation the reader now holds');
    // Removals by another handle reach the reader too.
    const other = HnswIndex.open(dir);
    assert.equal(await other.remove(['new0']), 1);
    assert.notEqual((await reader.search(randomVectors(4, 1, 8)[0], 1))[0].key, 'new0');
    assert.equal(await reader.count(), 8);
    await other.close();
    await reader.close();
  });

  test('a graph saved clean without some rows is completed on open', async () => {
    const dir = join(root, 'short-graph');
    const vectors = randomVectors(5, 12, 8);
    const index = HnswIndex.open(dir, { dim: 8 });
    await index.upsert(vectors.map((v, i) => ({ key: `k${i}`, vector: v })));
    await index.close();
    // What two writers on older code left behind: 12 rows, a graph of 8, marked clean at the current generation.
    const db = new Database(join(dir, 'index.sqlite'));
    const rows = db.prepare<[], { label: number }>('SELECT label FROM items ORDER BY label LIMIT 8').all();
    const short = new hnswlib.HierarchicalNSW('cosine', 8);
    short.initIndex(64);
    for (const { label } of rows) short.addPoint(Array.from(vectors[label - 1]), label);
    short.writeIndexSync(join(dir, 'vectors.hnsw'));
    db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES ('graph_labels', '8')").run();
    db.close();
    const reopened = HnswIndex.open(dir);
    for (const [i, v] of vectors.entries()) assert.equal((await reopened.search(v, 1))[0].key, `k${i}`);
    await reopened.close();
    assert.equal(graphLabels(dir), 12);
  });

  test('a dead writer\'s lock is taken over; a live one\'s makes the write fail with INDEX_LOCKED after the timeout', async () => {
    const dir = join(root, 'locks');
    const index = HnswIndex.open(dir, { dim: 8, lockTimeoutMs: 300 });
    const [v0, v1] = randomVectors(6, 2, 8);
    writeFileSync(join(dir, 'write.lock'), `${DEAD_PID} 0123456789abcdef`);
    await index.upsert([{ key: 'x', vector: v0 }]);
    assert.ok(!existsSync(join(dir, 'write.lock')));
    // Our parent (the test runner) is alive: its lock holds.
    writeFileSync(join(dir, 'write.lock'), `${process.ppid} 0123456789abcdef`);
    const started = Date.now();
    await assert.rejects(index.upsert([{ key: 'y', vector: v1 }]), (error: { code: string; status: number; message: string }) => {
      assert.equal(error.code, 'INDEX_LOCKED');
      assert.equal(error.status, 409);
      assert.match(error.message, new RegExp(`pid ${process.ppid}.*wait for it`));
      return true;
    });
    assert.ok(Date.now() - started >= 250, 'it waited for the lock');
    await assert.rejects(index.remove(['x']), { code: 'INDEX_LOCKED' });
    rmSync(join(dir, 'write.lock'));
    await index.upsert([{ key: 'y', vector: v1 }]);
    assert.equal(await index.count(), 2);
    await index.close();
  });

  test('a database that is not SQLite is UNAVAILABLE (503), named as given, without its content', async () => {
    const dir = join(root, 'corrupt');
    rmSync(dir, { recursive: true, force: true });
    await HnswIndex.open(dir, { dim: 8 }).close();
    rmSync(join(dir, 'index.sqlite-wal'), { force: true });
    rmSync(join(dir, 'index.sqlite-shm'), { force: true });
    writeFileSync(join(dir, 'index.sqlite'), 'SECRET-CONTENT '.repeat(400));
    const given = relative(process.cwd(), dir);
    for (const open of [async () => HnswIndex.open(given), () => openVectorIndex(given, { dim: 8 })]) {
      await assert.rejects(open(), (error: { code: string; status: number; message: string }) => {
        assert.equal(error.code, 'UNAVAILABLE');
        assert.equal(error.status, 503);
        assert.ok(error.message.includes(given), error.message);
        assert.ok(!/(^|\s)\//.test(error.message) && !error.message.includes('SECRET'), error.message);
        return true;
      });
    }
  });

  test('a corrupt graph file is rebuilt from SQLite, not an error', async () => {
    const dir = join(root, 'bad-graph');
    const vectors = randomVectors(7, 10, 8);
    const index = HnswIndex.open(dir, { dim: 8 });
    await index.upsert(vectors.map((v, i) => ({ key: `k${i}`, vector: v })));
    await index.close();
    writeFileSync(join(dir, 'vectors.hnsw'), Buffer.alloc(4096, 0xff));
    const reopened = HnswIndex.open(dir);
    for (const [i, v] of vectors.entries()) assert.equal((await reopened.search(v, 1))[0].key, `k${i}`);
    await reopened.close();
    assert.equal(graphLabels(dir), 10);
  });
});
