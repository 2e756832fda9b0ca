/**
 * CTC forced alignment, the WhisperX method (after torchaudio's forced-alignment tutorial): a trellis over
 * log-softmax emissions where each target character is emitted on one frame and the frames between are
 * blanks, a Viterbi backtrack from the best end frame, and repeats merged into one span per character.
 */

/** One frame of the best path. */
export interface PathPoint {
  /** Index into the target sequence. */
  readonly tokenIndex: number;
  readonly frame: number;
  /** Probability of the label taken on that frame (the character, or blank while staying). */
  readonly probability: number;
}

/** One target character's span: frames [start, end). */
export interface CharSpan {
  readonly tokenIndex: number;
  readonly start: number;
  readonly end: number;
  /** Mean probability over the span's frames. */
  readonly score: number;
}

/**
 * Viterbi alignment of `targets` (vocab ids) to `emission` ([frames, vocabSize] log probabilities).
 * trellis[t][j] = best log score of having emitted j targets after t frames; staying costs a blank, advancing
 * emits the next target. The path ends at the frame maximising trellis[·][N] (trailing frames are free), as
 * WhisperX's `backtrack`. Only the decisions are stored (a byte per cell), so memory is frames × targets bytes.
 * Returns undefined when the targets cannot fit (more targets than frames).
 */
export function forcedAlign(
  emission: Float32Array,
  vocabSize: number,
  targets: readonly number[],
  blankId: number,
): PathPoint[] | undefined {
  const T = Math.floor(emission.length / vocabSize);
  const N = targets.length;
  if (N === 0 || N > T) return undefined;
  // changed[t * (N + 1) + j]: 1 when trellis[t + 1][j] came from advancing, i.e. changed > stayed
  const changed = new Uint8Array(T * (N + 1));
  let previous = new Float64Array(N + 1).fill(-Infinity);
  let current = new Float64Array(N + 1);
  previous[0] = 0;
  let bestEnd = -Infinity;
  let endFrame = -1;
  for (let t = 0; t < T; t++) {
    const row = t * vocabSize;
    const blank = emission[row + blankId];
    current[0] = previous[0] + blank;
    for (let j = 1; j <= N; j++) {
      const stayed = previous[j] + blank;
      const advanced = previous[j - 1] + emission[row + targets[j - 1]];
      if (advanced > stayed) {
        current[j] = advanced;
        changed[t * (N + 1) + j] = 1;
      } else {
        current[j] = stayed;
      }
    }
    // rows 1..T of the trellis; torch.argmax returns the first maximum
    if (current[N] > bestEnd) {
      bestEnd = current[N];
      endFrame = t + 1;
    }
    [previous, current] = [current, previous];
  }
  if (endFrame < 0 || !Number.isFinite(bestEnd)) return undefined;
  const path: PathPoint[] = [];
  let j = N;
  for (let t = endFrame; t > 0; t--) {
    const advanced = changed[(t - 1) * (N + 1) + j] === 1;
    const label = advanced ? targets[j - 1] : blankId;
    path.push({ tokenIndex: j - 1, frame: t - 1, probability: Math.exp(emission[(t - 1) * vocabSize + label]) });
    if (advanced) {
      j--;
      if (j === 0) return path.reverse();
    }
  }
  return undefined;
}

/** WhisperX `merge_repeats`: consecutive path points of one target become one span. */
export function mergeRepeats(path: readonly PathPoint[]): CharSpan[] {
  const spans: CharSpan[] = [];
  for (let i = 0; i < path.length; ) {
    let k = i;
    let score = 0;
    while (k < path.length && path[k].tokenIndex === path[i].tokenIndex) score += path[k++].probability;
    spans.push({ tokenIndex: path[i].tokenIndex, start: path[i].frame, end: path[k - 1].frame + 1, score: score / (k - i) });
    i = k;
  }
  return spans;
}
