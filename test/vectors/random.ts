/** Test data for the vector index tests. */

/** Seeded uniform [-1, 1) vectors. */
export function randomVectors(seed: number, count: number, dim: number): Float32Array[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
  };
  return Array.from({ length: count }, () => Float32Array.from({ length: dim }, next));
}
