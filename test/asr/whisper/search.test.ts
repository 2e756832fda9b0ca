import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodingTask, argmax, logSumExp, rankCandidates, seededRandom, topK, type DecodingOptions } from '../../../src/asr/index.js';
import { sampleCategorical } from '../../../src/asr/whisper/search.js';
import { fakeFeatures, scriptedModel, type Script } from './scripted.js';

const EOT = 50257;
const A = 10;
const B = 11;
/** Filters off, so the script alone decides; sampleBegin is 4 (sot, en, transcribe, notimestamps). */
const FREE: DecodingOptions = { language: 'en', suppressTokens: '', suppressBlank: false, withoutTimestamps: true };
const BEGIN = 4;

/** Logits log(p) for the given tokens, a negligible -30 elsewhere. */
function setProbs(logits: Float32Array, probs: Record<number, number>): void {
  logits.fill(-30);
  for (const [token, p] of Object.entries(probs)) logits[Number(token)] = Math.log(p);
}

// Greedy takes A (0.6) then A (0.36) then EOT: p = 0.216 over 2 tokens. Beam 2 also finds B EOT (p = 0.36,
// 1 token): raw log-probability prefers it, length normalisation prefers A A.
const TREE: Script = (tokens, logits) => {
  const path = tokens.slice(BEGIN).join(',');
  const table: Record<string, Record<number, number>> = {
    '': { [A]: 0.6, [B]: 0.4 },
    [`${A}`]: { [A]: 0.36, [B]: 0.34, [EOT]: 0.3 },
    [`${B}`]: { [EOT]: 0.9, [A]: 0.05, [B]: 0.05 },
    [`${A},${A}`]: { [EOT]: 1 },
    [`${A},${B}`]: { [EOT]: 1 },
  };
  setProbs(logits, table[path] ?? { [EOT]: 1 });
};

test('argmax, topK and logSumExp follow torch (first index on ties, sorted top-k, stable logsumexp)', () => {
  const row = Float32Array.from([1, 5, 3, 5, -Infinity, 2]);
  assert.equal(argmax(row), 1);
  assert.deepEqual(topK(row, 3), [1, 3, 2]);
  assert.ok(Math.abs(logSumExp(Float32Array.from([1000, 1000])) - (1000 + Math.log(2))) < 1e-9);
  assert.equal(logSumExp(Float32Array.from([-Infinity, -Infinity])), -Infinity);
  assert.ok(Math.abs(logSumExp(row) - Math.log([1, 5, 3, 5, 2].reduce((s, v) => s + Math.exp(v), 0))) < 1e-9);
});

test('greedy follows the argmax path and sums float32 log-probabilities', async () => {
  const model = await scriptedModel(TREE);
  const [result] = await new DecodingTask(model, FREE).run(fakeFeatures(1));
  assert.deepEqual(result.tokens, [A, A]);
  assert.ok(Math.abs(result.avgLogprob - Math.log(0.216) / 3) < 1e-5);
});

test('beam search (openai BeamSearchDecoder) finds the better short hypothesis; the ranker applies the length penalty', async () => {
  const model = await scriptedModel(TREE);
  const [normalised] = await new DecodingTask(model, { ...FREE, beamSize: 2 }).run(fakeFeatures(1));
  assert.deepEqual(normalised.tokens, [A, A], 'log p / length: A A (-0.77) beats B (-1.02)');
  const [raw] = await new DecodingTask(model, { ...FREE, beamSize: 2, lengthPenalty: 0 }).run(fakeFeatures(1));
  assert.deepEqual(raw.tokens, [B], 'penalty ((5 + n) / 6) ** 0 = 1: B (log 0.36) wins');
  assert.ok(Math.abs(raw.avgLogprob - Math.log(0.36) / 2) < 1e-5);
});

test('the ranker: length normalisation by default, the Google NMT penalty with alpha', () => {
  const tokens = [[[1, 2, 3, 4], [1]]];
  assert.deepEqual(rankCandidates(tokens, [[-4, -1.5]], undefined), [0]);
  assert.deepEqual(rankCandidates(tokens, [[-4, -1.5]], 0), [1]);
  // alpha 1: -4 / (9/6) = -2.67 vs -1.5 / 1 = -1.5
  assert.deepEqual(rankCandidates(tokens, [[-4, -1.5]], 1), [1]);
});

/** Pseudo-random but deterministic logits: a hash of the row's tokens and the vocabulary index. */
const NOISE: Script = (tokens, logits) => {
  let h = 2166136261;
  for (const t of tokens) h = Math.imul(h ^ t, 16777619);
  for (let i = 0; i < logits.length; i++) {
    const x = Math.imul(h ^ i, 2654435761) >>> 0;
    logits[i] = ((x % 10007) / 10007) * 8;
  }
  logits[EOT] = tokens.length > 20 ? 20 : -5;
};

test('beam search with one beam equals greedy', async () => {
  const model = await scriptedModel(NOISE);
  const [greedy] = await new DecodingTask(model, FREE).run(fakeFeatures(1));
  const [beam] = await new DecodingTask(model, { ...FREE, beamSize: 1 }).run(fakeFeatures(1));
  assert.ok(greedy.tokens.length > 10);
  assert.deepEqual(beam.tokens, greedy.tokens);
  assert.equal(beam.avgLogprob, greedy.avgLogprob);
});

test('a signal stops a decode at its next token step (AbortError); one that never fires changes nothing', async () => {
  const model = await scriptedModel(NOISE);
  const [plain] = await new DecodingTask(model, FREE).run(fakeFeatures(1));
  const [signalled] = await new DecodingTask(model, FREE).run(fakeFeatures(1), undefined, new AbortController().signal);
  assert.deepEqual(signalled, plain);
  const stop = new AbortController();
  const stopping = await scriptedModel((tokens, logits, audio) => {
    if (tokens.length - BEGIN === 3) stop.abort();
    NOISE(tokens, logits, audio);
  });
  await assert.rejects(new DecodingTask(stopping, FREE).run(fakeFeatures(1), undefined, stop.signal), { name: 'AbortError' });
  assert.equal(stopping.runners[0].rowHistory.length, 4, 'the first pass and three steps, none after the abort');
  const stopped = new AbortController();
  stopped.abort();
  await assert.rejects(new DecodingTask(model, FREE).run(fakeFeatures(1), undefined, stopped.signal), { name: 'AbortError' });
});

test('a batch decodes each window as alone, and a finished row leaves the runner (per-row end)', async () => {
  // Window 0 stops after 2 tokens, window 1 after 5.
  const script: Script = (tokens, logits, audio) => {
    const n = tokens.length - BEGIN;
    setProbs(logits, n >= (audio === 0 ? 2 : 5) ? { [EOT]: 0.9, [A]: 0.1 } : { [A + audio]: 0.7, [B + 5]: 0.3 });
  };
  const model = await scriptedModel(script);
  const batch = await new DecodingTask(model, FREE).run(fakeFeatures(2));
  assert.deepEqual(batch.map((r) => r.tokens), [[A, A], [B, B, B, B, B]]);
  assert.deepEqual(model.runners[0].rowHistory, [2, 2, 2, 1, 1, 1]);
  for (const audio of [0, 1]) {
    const alone = await scriptedModel((t, l) => script(t, l, audio));
    const [single] = await new DecodingTask(alone, FREE).run(fakeFeatures(1));
    assert.deepEqual(single.tokens, batch[audio].tokens);
    assert.equal(single.avgLogprob, batch[audio].avgLogprob);
  }
});

test('best-of sampling: one row per sample, reproducible with a seed', async () => {
  const model = await scriptedModel(NOISE);
  const options = { ...FREE, temperature: 1, bestOf: 3, seed: 42 };
  const [first] = await new DecodingTask(model, options).run(fakeFeatures(1));
  const [again] = await new DecodingTask(model, options).run(fakeFeatures(1));
  assert.deepEqual(first.tokens, again.tokens);
  assert.equal(model.runners[0].rowHistory[1], 3);
  assert.equal(first.temperature, 1);
});

test('categorical sampling draws in proportion to softmax(logits / T)', () => {
  const random = seededRandom(7);
  const row = Float32Array.from([Math.log(0.2), Math.log(0.8), -Infinity]);
  const counts = [0, 0, 0];
  for (let i = 0; i < 20000; i++) counts[sampleCategorical(row, 1, random)]++;
  assert.equal(counts[2], 0);
  assert.ok(Math.abs(counts[0] / 20000 - 0.2) < 0.015, `p(0) = ${counts[0] / 20000}`);
  // T = 0.5 sharpens: 0.2^2 / (0.2^2 + 0.8^2) = 0.0588
  const sharp = [0, 0];
  for (let i = 0; i < 20000; i++) sharp[sampleCategorical(row, 0.5, random)]++;
  assert.ok(Math.abs(sharp[0] / 20000 - 0.0588) < 0.01, `p(0) at T=0.5 = ${sharp[0] / 20000}`);
});
