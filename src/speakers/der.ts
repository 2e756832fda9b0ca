/**
 * Diarization error rate with pyannote.metrics' conventions: (false alarm + missed speech + speaker confusion)
 * / reference speech, after the one-to-one speaker mapping that maximises their overlap; `collar` seconds
 * around each reference boundary (half before, half after) are not scored; overlapping speech is scored.
 */
export interface Turn {
  start: number;
  end: number;
  speaker: string;
}

export interface DerOptions {
  /** Seconds removed around every reference turn boundary (half each side). @default 0 */
  collar?: number;
}

export interface DerResult {
  der: number;
  /** Seconds. */
  total: number;
  falseAlarm: number;
  missed: number;
  confusion: number;
  /** Reference speaker → hypothesis speaker. */
  mapping: Map<string, string>;
}

interface Piece {
  start: number;
  end: number;
  ref: string[];
  hyp: string[];
}

function pieces(reference: readonly Turn[], hypothesis: readonly Turn[], collar: number): Piece[] {
  const removed = collar > 0 ? reference.flatMap((t) => [t.start, t.end]).map((b) => [b - collar / 2, b + collar / 2] as const) : [];
  const cuts = new Set<number>();
  for (const t of [...reference, ...hypothesis]) cuts.add(t.start).add(t.end);
  for (const [a, b] of removed) cuts.add(a).add(b);
  const times = [...cuts].sort((a, b) => a - b);
  const out: Piece[] = [];
  for (let i = 0; i + 1 < times.length; i++) {
    const start = times[i];
    const end = times[i + 1];
    const mid = (start + end) / 2;
    if (removed.some(([a, b]) => mid > a && mid < b)) continue;
    const ref = reference.filter((t) => t.start <= mid && mid < t.end).map((t) => t.speaker);
    const hyp = hypothesis.filter((t) => t.start <= mid && mid < t.end).map((t) => t.speaker);
    if (ref.length > 0 || hyp.length > 0) out.push({ start, end, ref: [...new Set(ref)], hyp: [...new Set(hyp)] });
  }
  return out;
}

/** The reference → hypothesis mapping with the most shared time (exhaustive for small sets, greedy beyond). */
function bestMapping(refs: string[], hyps: string[], shared: (r: string, h: string) => number): Map<string, string> {
  let best = new Map<string, string>();
  let bestScore = -1;
  if (refs.length <= 7 && hyps.length <= 7) {
    const walk = (i: number, used: Set<string>, current: Map<string, string>, score: number) => {
      if (i === refs.length) {
        if (score > bestScore) {
          bestScore = score;
          best = new Map(current);
        }
        return;
      }
      walk(i + 1, used, current, score); // this reference speaker left unmapped
      for (const h of hyps) {
        if (used.has(h)) continue;
        used.add(h);
        current.set(refs[i], h);
        walk(i + 1, used, current, score + shared(refs[i], h));
        current.delete(refs[i]);
        used.delete(h);
      }
    };
    walk(0, new Set(), new Map(), 0);
    return best;
  }
  const pairs = refs.flatMap((r) => hyps.map((h) => ({ r, h, s: shared(r, h) }))).sort((a, b) => b.s - a.s);
  const usedH = new Set<string>();
  for (const p of pairs) {
    if (best.has(p.r) || usedH.has(p.h) || p.s <= 0) continue;
    best.set(p.r, p.h);
    usedH.add(p.h);
  }
  return best;
}

/** DER of `hypothesis` against `reference`. */
export function diarizationError(reference: readonly Turn[], hypothesis: readonly Turn[], options: DerOptions = {}): DerResult {
  const parts = pieces(reference, hypothesis, options.collar ?? 0);
  const cooccurrence = new Map<string, number>();
  for (const p of parts) for (const r of p.ref) for (const h of p.hyp) cooccurrence.set(`${r}\u0000${h}`, (cooccurrence.get(`${r}\u0000${h}`) ?? 0) + p.end - p.start);
  const refs = [...new Set(reference.map((t) => t.speaker))].sort();
  const hyps = [...new Set(hypothesis.map((t) => t.speaker))].sort();
  const mapping = bestMapping(refs, hyps, (r, h) => cooccurrence.get(`${r}\u0000${h}`) ?? 0);
  let total = 0;
  let falseAlarm = 0;
  let missed = 0;
  let confusion = 0;
  for (const p of parts) {
    const d = p.end - p.start;
    const nr = p.ref.length;
    const nh = p.hyp.length;
    total += d * nr;
    missed += d * Math.max(0, nr - nh);
    falseAlarm += d * Math.max(0, nh - nr);
    const correct = p.ref.filter((r) => mapping.has(r) && p.hyp.includes(mapping.get(r) as string)).length;
    confusion += d * (Math.min(nr, nh) - correct);
  }
  return { der: total > 0 ? (falseAlarm + missed + confusion) / total : 0, total, falseAlarm, missed, confusion, mapping };
}
