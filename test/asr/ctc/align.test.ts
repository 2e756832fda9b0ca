import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { alignSegment, alignTranscript, alignmentTargets, charToId, forcedAlign, loadCtcModel, mergeRepeats, logSoftmax } from '../../../src/asr/ctc/index.js';
import { releaseSessions } from '../../../src/runtime/index.js';
import { ensureWav2Vec2Model } from '../../models/wav2vec2.js';
import { testVocab } from './helpers.js';

after(() => releaseSessions());

const vocab = testVocab();
const V = vocab.tokens.length;
const id = (c: string) => vocab.ids.get(c)!;

/** Log-softmax-able logits: frame f emits `planted.get(f)` with probability ~0.9, every other frame blank. */
function plantedLogits(frames: number, planted: Map<number, number>): Float32Array {
  const out = new Float32Array(frames * V);
  for (let f = 0; f < frames; f++) out[f * V + (planted.get(f) ?? vocab.blankId)] = 6;
  return out;
}

test('text is normalised to the aligner vocabulary: case, diacritics, apostrophes, one | per space run', () => {
  assert.equal(charToId('a', vocab), id('A'));
  assert.equal(charToId('é', vocab), id('E'));
  assert.equal(charToId('’', vocab), id("'"));
  assert.equal(charToId('4', vocab), undefined);
  assert.equal(charToId('|', vocab), undefined, 'a literal | in the text is not the delimiter');
  const { targets, charIndex } = alignmentTargets("  It’s  42 ok ", vocab);
  assert.deepEqual(targets.map((t) => vocab.tokens[t]).join(''), "IT'S|OK");
  assert.deepEqual(charIndex, [2, 3, 4, 5, 6, 11, 12]);
  assert.deepEqual(alignmentTargets('AB CD', vocab, 'ja').targets.map((t) => vocab.tokens[t]).join(''), 'ABCD');
});

test('trellis alignment recovers planted boundaries exactly', () => {
  const text = 'HI THERE YOU';
  const { targets } = alignmentTargets(text, vocab);
  const starts = [3, 7, 12, 15, 19, 22, 30, 31, 40, 47, 50, 56];
  assert.equal(targets.length, starts.length);
  const logits = plantedLogits(70, new Map(starts.map((f, k) => [f, targets[k]])));
  const path = forcedAlign(logSoftmax(logits, V), V, targets, vocab.blankId)!;
  const spans = mergeRepeats(path);
  assert.deepEqual(spans.map((s) => s.start), starts);
  assert.deepEqual(spans.map((s) => s.end), [...starts.slice(1), starts[starts.length - 1] + 1]);
  for (const s of spans) assert.ok(s.score > 0.8 && s.score <= 1);

  const { words } = alignSegment(text, logits, V, vocab, 0.02, 10, undefined);
  assert.deepEqual(words.map((w) => w.word), ['HI', 'THERE', 'YOU']);
  assert.deepEqual(words.map((w) => [w.start, w.end]), [[10.06, 10.24], [10.3, 10.8], [10.94, 11.14]]);
  for (const w of words) assert.ok(w.probability > 0.8);
});

test('unalignable characters get interpolated times and are never dropped', () => {
  const text = 'Hi, there 42 you!';
  const { targets } = alignmentTargets(text, vocab);
  assert.equal(targets.map((t) => vocab.tokens[t]).join(''), 'HI|THERE|YOU');
  const starts = [3, 7, 12, 15, 19, 22, 30, 31, 40, 47, 50, 56];
  const logits = plantedLogits(70, new Map(starts.map((f, k) => [f, targets[k]])));
  const { words, chars } = alignSegment(text, logits, V, vocab, 0.02, 0, 'en');
  assert.deepEqual(words.map((w) => w.word), ['Hi,', 'there', '42', 'you!']);
  // words keep the times of their aligned letters
  assert.deepEqual(words.map((w) => [w.start, w.end]), [[0.06, 0.24], [0.3, 0.8], [0.8, 0.94], [0.94, 1.14]]);
  // "42" sits between "there"'s last letter (ends 0.8) and "you"'s first (starts 0.94), split evenly
  assert.equal(words[2].interpolated, true);
  assert.equal(words[2].probability, 0);
  const four = chars[text.indexOf('4')];
  const two = chars[text.indexOf('2')];
  assert.deepEqual([four.start, four.end, two.start, two.end], [0.8, 0.87, 0.87, 0.94]);
  assert.equal(four.score, undefined);
  for (const c of chars) if (c.char.trim()) assert.ok(Number.isFinite(c.start) && Number.isFinite(c.end) && c.end >= c.start, c.char);
  for (let i = 1; i < words.length; i++) assert.ok(words[i].start >= words[i - 1].start);
});

test('a segment with nothing alignable, or more letters than frames, spreads its words over the segment', () => {
  const none = alignSegment('42 17', new Float32Array(10 * V), V, vocab, 0.02, 1, undefined);
  assert.deepEqual(none.words.map((w) => [w.word, w.start, w.end, w.interpolated]), [['42', 1, 1.08, true], ['17', 1.12, 1.2, true]]);
  assert.equal(forcedAlign(new Float32Array(2 * V), V, [5, 6, 7], 0), undefined);
  const tooLong = alignSegment('ABCDEFG', new Float32Array(3 * V), V, vocab, 0.02, 0, undefined);
  assert.equal(tooLong.words.length, 1);
  assert.deepEqual([tooLong.words[0].start, tooLong.words[0].end], [0, 0.06]);
});

test('alignTranscript keeps the words of a segment that lies beyond the audio, spread over its span', async () => {
  const model = await loadCtcModel(ensureWav2Vec2Model());
  const audio = new Float32Array(16000).map((_, i) => 0.1 * Math.sin(i / 7));
  const result = await alignTranscript(audio, [
    { text: ' hello there', start: 0, end: 1 },
    { text: ' late words', start: 2, end: 3 },
  ], model);
  assert.equal(result.segments.length, 2);
  assert.deepEqual(result.segments[0].words!.map((w) => w.word), [' hello', ' there']);
  for (const w of result.segments[0].words!) assert.ok(w.start >= 0 && w.end <= 1);
  assert.deepEqual(result.segments[1].words!.map((w) => [w.word, w.start, w.end]), [[' late', 2, 2.4], [' words', 2.5, 3]]);
  assert.equal(result.segments[1].text, ' late words');
});
