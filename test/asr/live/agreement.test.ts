/**
 * The pure parts of live transcription on scripted input: LocalAgreement-2's commits (whisper_streaming's
 * HypothesisBuffer), its prompt and trimming rules, and server_vad turn detection on scripted probabilities.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Endpointer, HypothesisBuffer, promptText, resolveTurnDetection, trimPoint, type TimedWord } from '../../../src/asr/live/index.js';
import { isMoxingError } from '../../../src/errors.js';

/** Words one second apart, starting at `from` seconds, with Whisper's leading spaces. */
const words = (text: string, from = 0): TimedWord[] => text.split(' ').map((w, i) => ({ start: from + i, end: from + i + 1, word: ` ${w}` }));
const said = (ws: readonly TimedWord[]): string => ws.map((w) => w.word.trim()).join(' ');

test('LocalAgreement-2 commits the longest common prefix of the last two hypotheses, never the disagreement', () => {
  const buffer = new HypothesisBuffer();
  buffer.insert(words('the cat sat'), 0);
  assert.deepEqual(buffer.flush(), [], 'one hypothesis agrees with nothing');
  buffer.insert(words('the cat sits on'), 0);
  assert.equal(said(buffer.flush()), 'the cat');
  assert.equal(said(buffer.complete()), 'sits on');
  // The next hypothesis repeats the committed words (the buffer still holds their audio): they are not committed twice.
  buffer.insert(words('the cat sits on the mat'), 0);
  assert.equal(said(buffer.flush()), 'sits on');
  buffer.insert(words('the cat sits on a mat'), 0);
  assert.deepEqual(buffer.flush(), [], '"the" and "a" disagree: nothing past them commits');
  assert.equal(said(buffer.complete()), 'a mat');
});

test('a hypothesis that restates the committed tail at its head (the n-gram rule) drops the repetition', () => {
  const buffer = new HypothesisBuffer();
  buffer.insert(words('one two three'), 0);
  buffer.flush();
  buffer.insert(words('one two three four'), 0);
  assert.equal(said(buffer.flush()), 'one two three');
  // After a trim the buffer starts at 2 s; the decode says "three four five" from there: "three" is a repeat.
  buffer.popCommitted(2);
  buffer.insert([{ start: 0.95, end: 1, word: ' three' }, { start: 1, end: 2, word: ' four' }, { start: 2, end: 3, word: ' five' }], 2);
  assert.equal(said(buffer.flush()), 'four', '"four" agrees with the previous hypothesis; "three" was not inserted again');
  assert.equal(said(buffer.complete()), 'five');
});

test('the prompt is the committed text before the buffer, the latest words up to 200 characters', () => {
  const committed = words(Array.from({ length: 100 }, (_, i) => `w${i}`).join(' '));
  const prompt = promptText(committed, 90);
  assert.ok(prompt.length <= 200 + 4, `${prompt.length} characters`);
  assert.ok(prompt.endsWith(' w89'), 'words inside the buffer (ending after 90 s) are left out, as whisper_streaming does');
  assert.equal(promptText(committed, 0), '');
  assert.equal(promptText(words('a b c'), 10), 'a b', 'the last committed word is never in the prompt (k starts at len - 1)');
});

test('trimming happens at the end of the second-to-last segment that the committed text has passed', () => {
  assert.equal(trimPoint([5, 10, 14], 100, 111), 110);
  assert.equal(trimPoint([5, 10, 14], 100, 107), 105, 'segment ends past the commit are walked back');
  assert.equal(trimPoint([5, 10, 14], 100, 104), undefined, 'no committed segment end: no trim');
  assert.equal(trimPoint([5], 100, 120), undefined);
  assert.equal(trimPoint([5, 10], 100, undefined), undefined, 'nothing committed: no trim');
});

test('server_vad turns: start at the first speech frame, stop after silence_duration_ms, hysteresis in between', () => {
  // 512-sample frames of 32 ms; 500 ms of silence is 16 frames.
  const endpointer = new Endpointer(resolveTurnDetection({}));
  const probs = [0.1, 0.1, 0.9, 0.9, 0.4, 0.9, ...Array(15).fill(0.1), 0.8, ...Array(16).fill(0.05)];
  const edges = endpointer.feed(probs);
  assert.deepEqual(edges.map((e) => [e.kind, e.sample / 512]), [['start', 2], ['stop', 22]]);
  assert.equal(edges[1].decidedAt / 512, 38, 'the stop is decided 16 frames into the silence');
  // 0.4 lies between 0.35 and 0.5: it neither starts silence nor speech; the 15-frame pause was too short.
  const quiet = new Endpointer(resolveTurnDetection({ threshold: 0.95 }));
  assert.deepEqual(quiet.feed(probs), []);
  assert.throws(() => resolveTurnDetection({ threshold: 2 }), (e) => isMoxingError(e) && e.code === 'BAD_ARGUMENT');
});
