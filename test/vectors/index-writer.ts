/**
 * A second process writing an embedded index, for the concurrency tests:
 * `node --import tsx index-writer.ts DIR PREFIX SEED COUNT [LOCK_TIMEOUT_MS]` upserts COUNT seeded 8-d
 * vectors keyed PREFIX0.., one per write with a pause between, so that two of them interleave.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HnswIndex } from '../../src/vectors/index.js';
import { randomVectors } from './random.js';

const [dir, prefix, seed, count, lockTimeoutMs] = process.argv.slice(2);
const index = HnswIndex.open(dir, { dim: 8, lockTimeoutMs: lockTimeoutMs === undefined ? undefined : Number(lockTimeoutMs) });
const vectors = randomVectors(Number(seed), Number(count), 8);
for (const [i, vector] of vectors.entries()) {
  await index.upsert([{ key: `${prefix}${i}`, vector }]);
  await sleep(15);
}
await index.close();
