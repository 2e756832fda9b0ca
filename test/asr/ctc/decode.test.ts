import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmaxFrames, greedyCtcDecode, logSoftmax } from '../../../src/asr/ctc/index.js';
import { oneHotLogits, testVocab } from './helpers.js';

const vocab = testVocab();
const id = (c: string) => vocab.ids.get(c)!;
const V = vocab.tokens.length;

test('greedy CTC collapses repeats, drops blanks, keeps blank-separated doubles, splits on |', () => {
  // H H _ E L L _ L O O | | W _ O R L _ D _ _
  const frames = ['H', 'H', '<pad>', 'E', 'L', 'L', '<pad>', 'L', 'O', 'O', '|', '|', 'W', '<pad>', 'O', 'R', 'L', '<pad>', 'D', '<pad>', '<pad>'];
  const r = greedyCtcDecode(oneHotLogits(frames.map(id), V), V, vocab);
  assert.equal(r.text, 'HELLO WORLD');
  assert.deepEqual(r.words.map((w) => [w.word, w.startFrame, w.endFrame]), [['HELLO', 0, 10], ['WORLD', 12, 19]]);
  assert.deepEqual(r.tokens.map((t) => t.text).join(''), 'HELLO|WORLD');
  assert.deepEqual(r.tokens.slice(0, 2).map((t) => [t.startFrame, t.endFrame]), [[0, 2], [3, 4]]);
});

test('greedy CTC drops special tokens, leading/trailing/doubled delimiters and all-blank input', () => {
  const frames = ['|', '<s>', 'A', '<unk>', 'A', '|', '<pad>', '|', 'B', '</s>', '|'];
  assert.equal(greedyCtcDecode(oneHotLogits(frames.map(id), V), V, vocab).text, 'AA B');
  const blank = greedyCtcDecode(oneHotLogits([0, 0, 0], V), V, vocab);
  assert.equal(blank.text, '');
  assert.deepEqual(blank.words, []);
});

test('argmaxFrames gives the best id and its log-softmax probability', () => {
  const logits = Float32Array.from([0, Math.log(3), 0, 0]);
  const { ids, logprobs } = argmaxFrames(logits, 4);
  assert.equal(ids[0], 1);
  assert.ok(Math.abs(logprobs[0] - Math.log(0.5)) < 1e-6);
  const ls = logSoftmax(logits, 4);
  assert.ok(Math.abs(ls[1] - Math.log(0.5)) < 1e-6 && Math.abs(ls[0] - Math.log(1 / 6)) < 1e-6);
});
