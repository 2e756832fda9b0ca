/**
 * Greedy CTC decoding (transformers' `Wav2Vec2CTCTokenizer.decode` after an argmax): best id per frame,
 * consecutive repeats collapsed, blanks and special tokens dropped, the word delimiter `|` turned into a word
 * break. Keeps each character's frame span so words get times.
 */
import type { CtcVocabulary } from './config.js';

/** One emitted character (a collapsed run of frames with the same best id). */
export interface CtcToken {
  readonly id: number;
  readonly text: string;
  /** First frame of the run. */
  readonly startFrame: number;
  /** One past the last frame of the run. */
  readonly endFrame: number;
  /** Mean over the run of the best id's probability. */
  readonly probability: number;
}

export interface CtcWord {
  readonly word: string;
  readonly startFrame: number;
  readonly endFrame: number;
  /** Mean probability of the word's characters. */
  readonly probability: number;
  /** Mean log probability of the best id over the word's frames. */
  readonly logprob: number;
}

export interface GreedyCtcResult {
  /** Words joined by single spaces. */
  readonly text: string;
  /** Emitted characters, delimiters included, blanks and special tokens excluded. */
  readonly tokens: readonly CtcToken[];
  readonly words: readonly CtcWord[];
}

/** Row-wise log-softmax of [frames, vocab] logits (a new array). */
export function logSoftmax(logits: Float32Array, vocabSize: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let base = 0; base < logits.length; base += vocabSize) {
    let max = -Infinity;
    for (let v = 0; v < vocabSize; v++) max = Math.max(max, logits[base + v]);
    let sum = 0;
    for (let v = 0; v < vocabSize; v++) sum += Math.exp(logits[base + v] - max);
    const lse = max + Math.log(sum);
    for (let v = 0; v < vocabSize; v++) out[base + v] = logits[base + v] - lse;
  }
  return out;
}

/** Best id of each frame and its log probability. */
export function argmaxFrames(logits: Float32Array, vocabSize: number): { ids: Int32Array; logprobs: Float32Array } {
  const frames = Math.floor(logits.length / vocabSize);
  const ids = new Int32Array(frames);
  const logprobs = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    const base = f * vocabSize;
    let best = 0;
    let max = -Infinity;
    for (let v = 0; v < vocabSize; v++) {
      if (logits[base + v] > max) {
        max = logits[base + v];
        best = v;
      }
    }
    let sum = 0;
    for (let v = 0; v < vocabSize; v++) sum += Math.exp(logits[base + v] - max);
    ids[f] = best;
    logprobs[f] = -Math.log(sum);
  }
  return { ids, logprobs };
}

/** Greedy decoding of [frames, vocabSize] logits (row-major). */
export function greedyCtcDecode(logits: Float32Array, vocabSize: number, vocab: CtcVocabulary): GreedyCtcResult {
  const { ids, logprobs } = argmaxFrames(logits, vocabSize);
  return decodeFrameIds(ids, logprobs, vocab);
}

/** Collapses per-frame best ids into characters and words. */
export function decodeFrameIds(ids: Int32Array, logprobs: Float32Array, vocab: CtcVocabulary): GreedyCtcResult {
  const tokens: CtcToken[] = [];
  for (let f = 0; f < ids.length; ) {
    let end = f + 1;
    while (end < ids.length && ids[end] === ids[f]) end++;
    const id = ids[f];
    if (!vocab.specialIds.has(id) && vocab.tokens[id]) {
      let p = 0;
      for (let k = f; k < end; k++) p += Math.exp(logprobs[k]);
      tokens.push({ id, text: vocab.tokens[id], startFrame: f, endFrame: end, probability: p / (end - f) });
    }
    f = end;
  }
  const words: CtcWord[] = [];
  let current: CtcToken[] = [];
  const flush = () => {
    if (current.length === 0) return;
    const startFrame = current[0].startFrame;
    const endFrame = current[current.length - 1].endFrame;
    let lp = 0;
    for (let k = startFrame; k < endFrame; k++) lp += logprobs[k];
    words.push({
      word: current.map((t) => t.text).join(''),
      startFrame,
      endFrame,
      probability: current.reduce((a, t) => a + t.probability, 0) / current.length,
      logprob: lp / (endFrame - startFrame),
    });
    current = [];
  };
  for (const token of tokens) {
    if (token.id === vocab.delimiterId) flush();
    else current.push(token);
  }
  flush();
  return { text: words.map((w) => w.word).join(' '), tokens, words };
}
