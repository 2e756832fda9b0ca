/**
 * Row math over logits, the per-token hot path of decoding: argmax, top-k and log-sum-exp over ~52k
 * entries. exp() goes through a 64-entry table of 2^(j/64) and a short polynomial (relative error
 * ~1e-12, against float32 logits), several times faster than Math.exp in V8.
 */

const STEPS = 64;
const LOG2E_STEPS = STEPS * Math.LOG2E;
const LN2_STEPS = Math.LN2 / STEPS;
const FRACTION = Float64Array.from({ length: STEPS }, (_, j) => 2 ** (j / STEPS));
/** 2^e for e in [-EXP_BIAS, 0]. */
const EXP_BIAS = 2048;
const POWER = Float64Array.from({ length: EXP_BIAS + 1 }, (_, i) => 2 ** (i - EXP_BIAS));
/** Below this, float32 exp underflows to 0 (and -Infinity lands here too). */
const UNDERFLOW = -103.98;

/** exp(x) for x <= 0. */
export function expNonPositive(x: number): number {
  if (x < UNDERFLOW) return 0;
  const k = Math.floor(x * LOG2E_STEPS);
  const r = x - k * LN2_STEPS; // 0 <= r < ln2 / 64
  return FRACTION[k & (STEPS - 1)] * POWER[(k >> 6) + EXP_BIAS] * (1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24)))));
}

/** sum(exp(row[i] - max)) over a row whose largest entry is `max`. Kept minimal: this loop runs per token. */
export function expSum(row: Float32Array, max: number): number {
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const x = row[i] - max;
    if (x < UNDERFLOW) continue;
    const k = Math.floor(x * LOG2E_STEPS);
    const r = x - k * LN2_STEPS;
    sum += FRACTION[k & (STEPS - 1)] * POWER[(k >> 6) + EXP_BIAS] * (1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24)))));
  }
  return sum;
}

/** Largest entry of a row (-Infinity when all are). */
export function rowMax(row: Float32Array, from = 0, to = row.length): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) if (row[i] > max) max = row[i];
  return max;
}

/** log(sum(exp(row))), stable against large values; pass `max` when already known (greedy has it). */
export function logSumExp(row: Float32Array, max = rowMax(row)): number {
  if (max === -Infinity) return -Infinity;
  return max + Math.log(expSum(row, max));
}

/** Index of the largest value; the first on ties (torch.argmax). */
export function argmax(row: Float32Array): number {
  let best = 0;
  let max = row[0];
  for (let i = 1; i < row.length; i++) {
    if (row[i] > max) {
      max = row[i];
      best = i;
    }
  }
  return best;
}

/** The `k` largest entries of a row, largest first (torch.topk). */
export function topK(row: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (best.length === k && v <= row[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && row[best[at - 1]] < v) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** softmax(row)[index]. */
export function softmaxAt(row: Float32Array, index: number): number {
  const max = rowMax(row);
  return expNonPositive(row[index] - max) / expSum(row, max);
}
