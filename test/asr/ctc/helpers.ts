/** Synthetic vocabularies and emissions for the CTC tests. */
import type { CtcVocabulary } from '../../../src/asr/ctc/index.js';

/** wav2vec2-base-960h's layout: <pad>=0 (blank), <s>, </s>, <unk>, |=4, then upper-case letters and '. */
export function testVocab(tokens: readonly string[] = ['<pad>', '<s>', '</s>', '<unk>', '|', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "'"]): CtcVocabulary {
  const ids = new Map(tokens.map((t, i) => [t, i]));
  return {
    tokens,
    ids,
    blankId: 0,
    delimiterId: ids.get('|') ?? -1,
    specialIds: new Set([0, 1, 2, 3].filter((i) => i < tokens.length && /^</.test(tokens[i]))),
  };
}

/** Logits [frames, V] whose argmax per frame is `ids[f]` (the chosen id gets `peak`, the rest 0). */
export function oneHotLogits(ids: readonly number[], vocabSize: number, peak = 5): Float32Array {
  const out = new Float32Array(ids.length * vocabSize);
  ids.forEach((id, f) => (out[f * vocabSize + id] = peak));
  return out;
}
