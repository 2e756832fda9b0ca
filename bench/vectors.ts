/**
 * Does the embedded HNSW index find the true neighbours, and how fast? (target: recall@10 >= 0.98 against
 * exact search on 100k random 384-d vectors; p50 search latency reported)
 *
 * Run: npx tsx bench/vectors.ts [--count 100000] [--queries 200] [--m 32] [--ef-construction 200]
 *        [--ef 128,256,512,1024,2048,4096] [--reuse]   (--reuse: search the index a previous run built, if any)
 *
 * Random uniform vectors are the hardest case for a graph index (no cluster structure to exploit), so this is a
 * lower bound on recall for real embeddings. The index is the product path: HnswIndex with its SQLite store,
 * built through upsert() in batches, closed and reopened (so the persisted graph is what gets searched).
 * Latency is per query, one at a time, after a warm-up; p50 and p95 are of the individual queries.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_HNSW, exactSearch, HnswIndex } from '../src/vectors/index.js';
import { workDir } from './lib.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '200' },
    m: { type: 'string', default: String(DEFAULT_HNSW.m) },
    'ef-construction': { type: 'string', default: String(DEFAULT_HNSW.efConstruction) },
    ef: { type: 'string', default: `${DEFAULT_HNSW.efSearch},256,512,1024,2048,4096` },
    reuse: { type: 'boolean', default: false },
  },
});
const count = Number(values.count);
const queryCount = Number(values.queries);
const m = Number(values.m);
const efConstruction = Number(values['ef-construction']);
const efs = values.ef.split(',').map(Number);
const dim = 384;
const k = 10;

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
  };
}

const next = random(1);
const data = new Float32Array(count * dim);
for (let i = 0; i < data.length; i++) data[i] = next();
const nextQuery = random(2);
const queries = Array.from({ length: queryCount }, () => Float32Array.from({ length: dim }, nextQuery));

const dir = join(workDir('vectors'), `hnsw-${count}-m${m}-efc${efConstruction}`);
let buildS = Number.NaN;
if (!values.reuse || !existsSync(join(dir, 'vectors.hnsw'))) {
  rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  const building = HnswIndex.open(dir, { dim, m, efConstruction });
  for (let start = 0; start < count; start += 1000) {
    const records = [];
    for (let i = start; i < Math.min(count, start + 1000); i++) records.push({ key: `v${i}`, vector: data.subarray(i * dim, (i + 1) * dim) });
    await building.upsert(records);
    if ((start / 1000) % 10 === 0) process.stderr.write(`\rbuilt ${start + records.length}/${count}`);
  }
  await building.close();
  buildS = (performance.now() - t0) / 1000;
  process.stderr.write('\n');
}

let t0 = performance.now();
const truth = queries.map((q) => new Set(exactSearch(data, dim, q, k).map((h) => `v${h.index}`)));
const exactMs = (performance.now() - t0) / queries.length;

t0 = performance.now();
const index = HnswIndex.open(dir);
const openS = (performance.now() - t0) / 1000;

console.log(`HNSW index of ${count} random ${dim}-d vectors (cosine), M ${m}, efConstruction ${efConstruction}`);
const built = Number.isNaN(buildS) ? 'reused the index built before' : `build ${buildS.toFixed(1)} s (${Math.round(count / buildS)} vectors/s, with SQLite)`;
console.log(`${built}, reopen ${openS.toFixed(2)} s, exact search ${exactMs.toFixed(1)} ms/query`);
console.log('ef    recall@10   p50 ms   p95 ms   speed-up vs exact (p50)');
let reached: { ef: number; p50: number } | undefined;
for (const ef of efs) {
  for (const q of queries.slice(0, 20)) await index.search(q, k, { ef }); // warm-up
  const times: number[] = [];
  let found = 0;
  for (const [i, q] of queries.entries()) {
    const start = performance.now();
    const hits = await index.search(q, k, { ef });
    times.push(performance.now() - start);
    found += hits.filter((h) => truth[i].has(h.key)).length;
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)];
  const p95 = times[Math.floor(times.length * 0.95)];
  const recall = found / (queries.length * k);
  const mark = ef === DEFAULT_HNSW.efSearch ? ' (default)' : '';
  console.log(`${String(ef).padEnd(5)} ${recall.toFixed(4).padEnd(11)} ${p50.toFixed(2).padEnd(8)} ${p95.toFixed(2).padEnd(8)} ${(exactMs / p50).toFixed(0)}x${mark}`);
  if (!reached && recall >= 0.98) reached = { ef, p50 };
}
console.log(reached ? `recall@10 >= 0.98 from ef ${reached.ef}, p50 ${reached.p50.toFixed(2)} ms` : 'recall@10 >= 0.98 not reached at these ef values');
await index.close();
