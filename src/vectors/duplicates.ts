/**
 * Near-duplicate groups: items whose cosine similarity reaches a threshold are linked, and the connected
 * components (union-find) of two or more items are the groups. Neighbours come from the index's own search,
 * so this scales with the index rather than quadratically.
 */
import { MoxingError } from '../errors.js';
import type { VectorIndex } from './types.js';

export interface DuplicateOptions {
  /** Minimum cosine similarity for two items to count as duplicates. @default 0.95 */
  threshold: number;
  /** Neighbours examined per item; a group larger than this is still found through its members' links. @default 16 */
  neighbors: number;
}

export const DEFAULT_DUPLICATES: Readonly<DuplicateOptions> = Object.freeze({ threshold: 0.95, neighbors: 16 });

export interface DuplicateGroup {
  /** Keys in the group, sorted. */
  readonly keys: readonly string[];
  /** Lowest similarity of the links that joined the group. */
  readonly minScore: number;
}

/**
 * Groups of near-duplicates among `keys` (default: every item of the index), largest groups first.
 * Only links between two of `keys` count.
 */
export async function findDuplicates(index: VectorIndex, options: Partial<DuplicateOptions> = {}, keys?: readonly string[]): Promise<DuplicateGroup[]> {
  const { threshold, neighbors } = { ...DEFAULT_DUPLICATES, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!(threshold > -1 && threshold <= 1)) throw new MoxingError('BAD_ARGUMENT', `threshold must be a cosine similarity in (-1, 1], got ${threshold}`);
  if (!Number.isInteger(neighbors) || neighbors < 1) throw new MoxingError('BAD_ARGUMENT', `neighbors must be a whole number >= 1, got ${neighbors}`);
  const members = keys ?? (await index.list()).map((e) => e.key);
  const position = new Map(members.map((k, i) => [k, i]));
  const parent = members.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const weakest = new Map<number, number>();
  for (const [i, key] of members.entries()) {
    const record = await index.get(key);
    if (!record) continue;
    // +1: the item itself comes back as its own nearest neighbour.
    for (const hit of await index.search(record.vector, neighbors + 1)) {
      const j = position.get(hit.key);
      if (j === undefined || j === i || hit.score < threshold) continue;
      const a = find(i);
      const b = find(j);
      const low = Math.min(hit.score, weakest.get(a) ?? 1, weakest.get(b) ?? 1);
      if (a !== b) parent[a] = b;
      weakest.set(find(i), low);
    }
  }
  const groups = new Map<number, string[]>();
  for (const [i, key] of members.entries()) {
    const root = find(i);
    const group = groups.get(root);
    if (group) group.push(key);
    else groups.set(root, [key]);
  }
  return [...groups.entries()]
    .filter(([, g]) => g.length > 1)
    .map(([root, g]) => ({ keys: g.sort(), minScore: weakest.get(root) ?? threshold }))
    .sort((a, b) => b.keys.length - a.keys.length || (a.keys[0] < b.keys[0] ? -1 : 1));
}
