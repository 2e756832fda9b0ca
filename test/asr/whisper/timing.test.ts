import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addWordTimestamps,
  alignmentMatrix,
  dtw,
  findAlignment,
  getEnd,
  medianFilter,
  mergePunctuations,
  requireCrossAttentions,
  defaultAlignmentHeads,
  textTokenProbabilities,
  timingSequence,
  type WordSplitter,
  type WordTiming,
} from '../../../src/asr/whisper/timing.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('dtw matches openai dtw_cpu on hand-checked cases (including ties)', () => {
  // expected paths printed by openai's dtw_cpu/backtrace (run with numpy, numba removed)
  const x = [0.5, 0.25, 0.75, 1, 0.5, 0.25, 0.5, 0.5, 0.25, 1, 1, 1, 0, 0, 0.25, 0.5, 0.75, 0.25, 0.5, 0];
  let r = dtw(Float64Array.from(x), 4, 5);
  assert.deepEqual([...r.textIndices], [0, 1, 2, 2, 3]);
  assert.deepEqual([...r.timeIndices], [0, 1, 2, 3, 4]);
  r = dtw(new Float64Array(12), 3, 4); // all ties: openai prefers the left step
  assert.deepEqual([...r.textIndices], [0, 1, 2, 2, 2, 2]);
  assert.deepEqual([...r.timeIndices], [0, 0, 0, 1, 2, 3]);
  r = dtw(Float64Array.from([1, 0.1, 0.1, 0.1, 0.1, 1]), 2, 3);
  assert.deepEqual([...r.textIndices], [0, 1, 1]);
  assert.deepEqual([...r.timeIndices], [0, 1, 2]);
});

test('dtw recovers a path planted in a random cost matrix (openai test_dtw)', () => {
  for (const [N, M, seed] of [[10, 20, 1], [32, 16, 2], [40, 300, 3], [120, 150, 4]]) {
    const rand = rng(seed);
    const steps = [...Array(N - 1).fill(0), ...Array(M - 1).fill(1)];
    for (let k = steps.length - 1; k > 0; k--) {
      const m = Math.floor(rand() * (k + 1));
      [steps[k], steps[m]] = [steps[m], steps[k]];
    }
    const x = new Float32Array(N * M).map(() => rand());
    const planted: [number, number][] = [];
    let [i, j, k] = [0, 0, 0];
    for (;;) {
      x[i * M + j] -= 1;
      planted.push([i, j]);
      if (k === steps.length) break;
      if (k + 1 < steps.length && steps[k] !== steps[k + 1]) {
        i++;
        j++;
        k += 2;
        continue;
      }
      if (steps[k] === 0) i++;
      else j++;
      k++;
    }
    const { textIndices, timeIndices } = dtw(x, N, M);
    assert.deepEqual([...textIndices], planted.map((p) => p[0]), `rows of ${N}x${M}`);
    assert.deepEqual([...timeIndices], planted.map((p) => p[1]), `cols of ${N}x${M}`);
  }
});

test('median filter equals scipy on reflect-padded input and a direct reference', () => {
  const x = Float32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 2, 7, 1, 8, 2, 8, 1, 8, 2]);
  const scipy: Record<number, number[]> = {
    3: [1, 3, 1, 4, 5, 5, 6, 5, 6, 7, 2, 7, 2, 8, 2, 8, 2, 8],
    5: [3, 1, 3, 4, 4, 5, 5, 6, 5, 2, 7, 2, 7, 2, 8, 2, 8, 2],
    7: [1, 3, 3, 3, 4, 5, 5, 5, 6, 7, 2, 7, 2, 7, 2, 8, 2, 8],
  };
  for (const w of [3, 5, 7]) assert.deepEqual([...medianFilter(x, w, 9)], scipy[w], `width ${w}`);

  const rand = rng(9);
  const y = new Float64Array(4 * 57).map(() => rand() - 0.5);
  for (const w of [3, 7, 13]) {
    const got = medianFilter(y, w, 57);
    const pad = w >> 1;
    for (let r = 0; r < 4; r++) {
      const row = Array.from(y.subarray(r * 57, r * 57 + 57));
      const padded = [...row.slice(1, pad + 1).reverse(), ...row, ...row.slice(57 - pad - 1, 56).reverse()];
      for (let j = 0; j < 57; j++) {
        const win = padded.slice(j, j + w).sort((a, b) => a - b);
        assert.equal(got[r * 57 + j], win[pad]);
      }
    }
  }
  assert.deepEqual([...medianFilter(Float64Array.from([1, 5]), 7)], [1, 5], 'too short rows are returned as is');
  assert.throws(() => medianFilter(x, 4), /odd/);
});

test('mergePunctuations follows openai (prepend to next, append to previous)', () => {
  const w = (word: string, tokens: number[]): WordTiming => ({ word, tokens, start: 0, end: 0, probability: 1 });
  const words = [w(' "', [1]), w('Hello', [2]), w(',', [3]), w(' (', [4]), w(' world', [5]), w(')', [6]), w('.', [7])];
  mergePunctuations(words);
  assert.deepEqual(words.map((x) => x.word), ['', ' "Hello,', '', '', ' ( world).', '', '']);
  assert.deepEqual(words[1].tokens, [1, 2, 3]);
  assert.deepEqual(words[4].tokens, [4, 5, 6, 7]);
});

/** Vocabulary for synthetic tests: id -> text; ids >= 100 are specials. */
const VOCAB: Record<number, string> = { 1: ' The', 2: ' cat', 3: ' sat', 4: '.', 5: ' It', 6: ' pur', 7: 'red', 8: '!' };
const EOT = 100;
const splitOnSpaces: WordSplitter = (tokens) => {
  const words: string[] = [];
  const wordTokens: number[][] = [];
  for (const t of tokens) {
    const text = t >= EOT ? '<|endoftext|>' : VOCAB[t];
    const special = t >= EOT;
    const punct = !special && /^[.!?,]$/.test(text);
    if (words.length === 0 || text.startsWith(' ') || special || punct) {
      words.push(text);
      wordTokens.push([t]);
    } else {
      words[words.length - 1] += text;
      wordTokens[wordTokens.length - 1].push(t);
    }
  }
  return { words, wordTokens };
};

/**
 * Cross attentions [1, heads, seq, 1500] where row r of the sequence (after the sot tokens) peaks on the
 * frames [bounds[r], bounds[r+1]), so DTW must put the token boundaries exactly there.
 */
function plantedAttention(seqLen: number, sotLength: number, bounds: number[], heads: number): Float32Array {
  const frames = 1500;
  const data = new Float32Array(heads * seqLen * frames);
  const rand = rng(5);
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < seqLen; r++) {
      const row = data.subarray((h * seqLen + r) * frames, (h * seqLen + r + 1) * frames);
      const k = r - sotLength;
      let z = 0;
      for (let f = 0; f < frames; f++) {
        const inside = k >= 0 && k + 1 < bounds.length && f >= bounds[k] && f < bounds[k + 1];
        row[f] = (inside ? 50 : 1) * (0.9 + 0.2 * rand());
        z += row[f];
      }
      for (let f = 0; f < frames; f++) row[f] /= z;
    }
  }
  return data;
}

test('findAlignment puts word boundaries where the attention was planted', () => {
  const sot = [200, 201, 202];
  const text = [1, 2, 3, 4];
  const seq = timingSequence(sot, 203, text, EOT);
  assert.deepEqual(seq, [200, 201, 202, 203, 1, 2, 3, 4, EOT]);
  // rows: no-timestamps token, then the 4 text tokens; attention frames are 20 ms each
  const bounds = [0, 10, 40, 80, 120, 150];
  const data = plantedAttention(seq.length, sot.length, bounds, 2);
  const cross = [{ data, dims: [1, 2, seq.length, 1500] }, { data, dims: [1, 2, seq.length, 1500] }];
  const words = findAlignment({
    textTokens: text,
    textTokenProbs: [0.5, 0.25, 1, 0.75],
    crossAttentions: cross,
    alignmentHeads: [[0, 1], [1, 0]],
    sotLength: sot.length,
    eot: EOT,
    numFrames: 400,
    splitToWordTokens: splitOnSpaces,
  });
  assert.deepEqual(words.map((w) => w.word), [' The', ' cat', ' sat', '.']);
  // word k starts where row k (the token before it, openai's off-by-one) jumps: bounds[k]/50
  assert.deepEqual(words.map((w) => w.start), [0, 0.2, 0.8, 1.6]);
  assert.deepEqual(words.map((w) => w.end), [0.2, 0.8, 1.6, 2.4]);
  assert.deepEqual(words.map((w) => w.probability), [0.5, 0.25, 1, 0.75]);
  assert.deepEqual(findAlignment({ textTokens: [], textTokenProbs: [], crossAttentions: cross, alignmentHeads: [[0, 0]], sotLength: 3, eot: EOT, numFrames: 400, splitToWordTokens: splitOnSpaces }), []);
});

test('alignmentMatrix renormalising post-softmax weights equals softmax of truncated scores', () => {
  const rand = rng(11);
  const seqLen = 6;
  const scores = new Float64Array(seqLen * 1500).map(() => 3 * rand());
  const probs = new Float32Array(seqLen * 1500);
  for (let r = 0; r < seqLen; r++) {
    let z = 0;
    for (let f = 0; f < 1500; f++) z += Math.exp(scores[r * 1500 + f]);
    for (let f = 0; f < 1500; f++) probs[r * 1500 + f] = Math.exp(scores[r * 1500 + f]) / z;
  }
  const { matrix, rows, cols } = alignmentMatrix([{ data: probs, dims: [1, 1, seqLen, 1500] }], [[0, 0]], 2, 101, { medianFilterWidth: 1, qkScale: 1 });
  assert.equal(rows, 3);
  assert.equal(cols, 50);
  // reference: softmax over the first 50 frames, z-normalise over all rows, keep rows 2..4
  const w = new Float64Array(seqLen * 50);
  for (let r = 0; r < seqLen; r++) {
    let z = 0;
    for (let f = 0; f < 50; f++) z += Math.exp(scores[r * 1500 + f]);
    for (let f = 0; f < 50; f++) w[r * 50 + f] = Math.exp(scores[r * 1500 + f]) / z;
  }
  for (let f = 0; f < 50; f++) {
    const col = Array.from({ length: seqLen }, (_, r) => w[r * 50 + f]);
    const mean = col.reduce((a, b) => a + b) / seqLen;
    const std = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / seqLen);
    for (let r = 2; r < 5; r++) assert.ok(Math.abs(matrix[(r - 2) * 50 + f] - (w[r * 50 + f] - mean) / std) < 1e-4);
  }
});

test('textTokenProbabilities softmaxes over ids below eot on the right rows', () => {
  const vocab = 6;
  const eot = 4;
  const logits = new Float32Array(4 * vocab);
  logits.set([0, Math.log(3), 0, 0, 50, 50], 2 * vocab); // row sot(2)+0 predicts text token 1
  const [p] = textTokenProbabilities(logits, vocab, 2, [1], eot);
  assert.ok(Math.abs(p - 0.5) < 1e-6);
});

test('addWordTimestamps: words rebuild the segment text, times monotonic and inside segments', () => {
  const sot = [200, 201, 202];
  const segments = [
    { tokens: [150, 1, 2, 3, 4, 160], start: 10 + 0, end: 10 + 2 },
    { tokens: [160, 5, 6, 7, 8, 170], start: 10 + 2, end: 10 + 3.6 },
  ];
  const text = segments.flatMap((s) => s.tokens.filter((t) => t < EOT));
  const seq = timingSequence(sot, 203, text, EOT);
  const bounds = [0, 10, 30, 55, 80, 100, 120, 140, 160, 180];
  const data = plantedAttention(seq.length, sot.length, bounds, 1);
  const out = addWordTimestamps({
    segments,
    textTokenProbs: text.map(() => 0.9),
    crossAttentions: [{ data, dims: [1, 1, seq.length, 1500] }],
    alignmentHeads: [[0, 0]],
    sotLength: sot.length,
    eot: EOT,
    numFrames: 360, // 180 attention frames: the planted span covers the whole window
    seekFrames: 1000,
    lastSpeechTimestamp: 9.5,
    splitToWordTokens: splitOnSpaces,
  });
  assert.equal(out.length, 2);
  assert.deepEqual(out.map((s) => s.words.map((w) => w.word).join('')), [' The cat sat.', ' It purred!']);
  let previous = 10;
  for (const s of out) {
    for (const w of s.words) {
      assert.ok(w.start >= previous - 1e-9 && w.end >= w.start, `${w.word} ${w.start}-${w.end}`);
      assert.ok(w.start >= s.start - 1e-9 && w.end <= s.end + 1e-9);
      assert.ok(Math.abs(w.probability - 0.9) < 1e-12);
      previous = w.start;
    }
  }
  assert.deepEqual(out[0].words.map((w) => [w.start, w.end]), [[10, 10.2], [10.2, 10.6], [10.6, 11.1]]);
  assert.equal(getEnd(out), out[1].words[out[1].words.length - 1].end);
  assert.equal(getEnd([{ end: 3, words: [] }]), 3);
  assert.throws(() => addWordTimestamps({
    segments, textTokenProbs: [], crossAttentions: [], alignmentHeads: [[0, 0]], sotLength: 3, eot: EOT,
    numFrames: 3000, seekFrames: 0, lastSpeechTimestamp: 0, splitToWordTokens: splitOnSpaces,
  }), /textTokenProbs/);
});

test('requireCrossAttentions names the timestamped export when the outputs are missing', () => {
  assert.doesNotThrow(() => requireCrossAttentions(['logits', 'cross_attentions.0', 'cross_attentions.1'], 2, 'd.onnx'));
  assert.throws(() => requireCrossAttentions(['logits', 'present.0.decoder.key'], 2, 'onnx/decoder_model_merged.onnx'), (e: Error) =>
    /MODEL_INVALID/.test((e as { code?: string }).code ?? '') && /decoder_model_merged_timestamped\.onnx/.test(e.message));
  assert.deepEqual(defaultAlignmentHeads(3, 2), [[1, 0], [1, 1], [2, 0], [2, 1]]);
});
