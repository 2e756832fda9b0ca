import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTimestampRules, suppressBlank, suppressTokens, DecodingTask } from '../../../src/asr/index.js';
import { fakeFeatures, fixtureTokenizer, scriptedModel } from './scripted.js';

const VOCAB = 51865;
const EOT = 50257;
const NO_TIMESTAMPS = 50363;
const TB = 50364;
const SOT_SEQUENCE = [50258, 50259, 50359];
const SPECIAL = { eot: EOT, noTimestamps: NO_TIMESTAMPS, timestampBegin: TB };
const TEXT_A = 1000;
const TEXT_B = 2000;

function logits(fill = 0): Float32Array {
  return new Float32Array(VOCAB).fill(fill);
}

/** Indices whose logit is finite. */
function allowed(row: Float32Array, from = 0, to = row.length): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) if (row[i] !== -Infinity) out.push(i);
  return out;
}

// Text tokens are given a higher logit than timestamps so the forcing rule stays out of these cases.
function textFavoured(): Float32Array {
  const row = logits(0);
  row.fill(-20, TB);
  return row;
}

test('suppressBlank forbids the space token and EOT at the first sampled position only', () => {
  const filter = suppressBlank([220], EOT, 3);
  const first = logits();
  filter(first, SOT_SEQUENCE);
  assert.equal(first[220], -Infinity);
  assert.equal(first[EOT], -Infinity);
  assert.equal(allowed(first).length, VOCAB - 2);
  const later = logits();
  filter(later, [...SOT_SEQUENCE, TB]);
  assert.equal(allowed(later).length, VOCAB);
});

test('suppressTokens forbids its ids at every position', () => {
  const row = logits();
  suppressTokens([5, 7, 50362])(row, [...SOT_SEQUENCE, TB, 100]);
  assert.deepEqual([row[5], row[7], row[50362], row[6]], [-Infinity, -Infinity, -Infinity, 0]);
});

test('timestamp rules: the first token is a timestamp no later than max_initial_timestamp (1.0 s = index 50)', () => {
  const row = logits();
  applyTimestampRules(SPECIAL, 3, 50)(row, SOT_SEQUENCE);
  assert.deepEqual(allowed(row), Array.from({ length: 51 }, (_, i) => TB + i));
  const unlimited = logits();
  applyTimestampRules(SPECIAL, 3, undefined)(unlimited, SOT_SEQUENCE);
  assert.equal(allowed(unlimited).length, VOCAB - TB);
});

test('timestamp rules: <|notimestamps|> is always suppressed', () => {
  const row = textFavoured();
  applyTimestampRules(SPECIAL, 3, 50)(row, [...SOT_SEQUENCE, TB + 10, TEXT_A]);
  assert.equal(row[NO_TIMESTAMPS], -Infinity);
});

test('timestamp rules: after text, a timestamp must move past the opening one (non-zero length)', () => {
  const row = textFavoured();
  applyTimestampRules(SPECIAL, 3, 50)(row, [...SOT_SEQUENCE, TB + 10, TEXT_A]);
  assert.deepEqual(allowed(row, TB), Array.from({ length: VOCAB - (TB + 11) }, (_, i) => TB + 11 + i));
  assert.notEqual(row[TEXT_B], -Infinity);
  assert.notEqual(row[EOT], -Infinity);
});

test('timestamp rules: a closing timestamp is followed by a timestamp (not earlier) or EOT, never text', () => {
  const row = logits(0);
  row[EOT] = 10; // above log(1471 timestamps), so the forcing rule stays out
  applyTimestampRules(SPECIAL, 3, 50)(row, [...SOT_SEQUENCE, TB + 10, TEXT_A, TB + 30]);
  assert.deepEqual(allowed(row, 0, EOT), []);
  assert.notEqual(row[EOT], -Infinity);
  assert.equal(row[TB + 29], -Infinity);
  assert.notEqual(row[TB + 30], -Infinity, 'the next segment may open where this one closed');
});

test('timestamp rules: after a pair of timestamps comes text', () => {
  const row = textFavoured();
  applyTimestampRules(SPECIAL, 3, 50)(row, [...SOT_SEQUENCE, TB + 10, TEXT_A, TB + 30, TB + 30]);
  assert.deepEqual(allowed(row, TB), []);
  assert.notEqual(row[TEXT_B], -Infinity);
});

test('timestamp rules: timestamps are forced when their total probability beats every text token', () => {
  // 1501 timestamps at logit 0 sum to log(1501) ≈ 7.3 > 5, the best text token.
  const forced = logits(-10);
  forced.fill(0, TB);
  forced[TEXT_A] = 5;
  applyTimestampRules(SPECIAL, 3, 50)(forced, [...SOT_SEQUENCE, TB + 10, TEXT_A, TB + 20, TB + 20, TEXT_B]);
  assert.deepEqual(allowed(forced, 0, TB), []);
  // A text token above log(timestamps left) keeps text possible.
  const free = logits(-10);
  free.fill(0, TB);
  free[TEXT_A] = 8;
  applyTimestampRules(SPECIAL, 3, 50)(free, [...SOT_SEQUENCE, TB + 10, TEXT_A, TB + 20, TB + 20, TEXT_B]);
  assert.equal(free[TEXT_A], 8);
});

test('timestamp rules count from sampleBegin: prompt timestamps do not constrain the window', () => {
  const tokens = [50361, TB + 700, TEXT_A, TB + 800, ...SOT_SEQUENCE];
  const row = logits();
  applyTimestampRules(SPECIAL, tokens.length, 50)(row, tokens);
  assert.deepEqual(allowed(row), Array.from({ length: 51 }, (_, i) => TB + i));
});

test('DecodingTask assembles openai’s filters: suppress set with -1, blank, timestamps, max initial index 50', async () => {
  const model = await scriptedModel(() => {});
  const tok = await fixtureTokenizer();
  const task = new DecodingTask(model, { language: 'en' });
  assert.deepEqual(task.initialTokens, SOT_SEQUENCE);
  assert.equal(task.filters.length, 3);
  const row = logits();
  for (const f of task.filters) f(row, [...SOT_SEQUENCE, TB, TEXT_A]);
  for (const id of [...tok.nonSpeechTokens(), tok.transcribe, tok.translate, tok.sot, tok.sotPrev, tok.sotLm, tok.noSpeech]) assert.equal(row[id], -Infinity, `token ${id}`);
  const plain = new DecodingTask(model, { language: 'en', suppressTokens: '', suppressBlank: false, withoutTimestamps: true });
  assert.equal(plain.filters.length, 0);
  assert.deepEqual(plain.initialTokens, [...SOT_SEQUENCE, NO_TIMESTAMPS]);
  const prompted = new DecodingTask(model, { language: 'de', task: 'translate', prompt: 'hello world' });
  assert.deepEqual(prompted.initialTokens, [tok.sotPrev, ...tok.encode(' hello world'), 50258, 50261, 50358]);
  assert.equal(prompted.sotIndex, 1 + tok.encode(' hello world').length);
  const results = await new DecodingTask(model, { language: 'en', sampleLen: 3 }).run(fakeFeatures(1));
  assert.equal(results[0].tokens.length, 3);
});

test('DecodingTask rejects incompatible options as openai does', async () => {
  const model = await scriptedModel(() => {});
  assert.throws(() => new DecodingTask(model, { beamSize: 2, bestOf: 2, temperature: 0.5 }), /beamSize and bestOf/);
  assert.throws(() => new DecodingTask(model, { bestOf: 2 }), /bestOf needs a temperature/);
  assert.throws(() => new DecodingTask(model, { patience: 2 }), /patience needs beamSize/);
  assert.throws(() => new DecodingTask(model, { lengthPenalty: 2 }), /lengthPenalty/);
  assert.throws(() => new DecodingTask(model, { suppressTokens: 'x' }), /suppressTokens/);
});
