import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutWindow, resolveTranscribeOptions, seekClips, transcribeSamples, type TranscribeOptions, type TranscribeProgress } from '../../../src/asr/index.js';
import type { TranscriptionResult } from '../../../src/asr/types.js';
import { isMoxingError } from '../../../src/errors.js';
import { scriptedModel, type Script, type ScriptedModel } from './scripted.js';

const SOT = 50258;
const SOT_PREV = 50361;
const NO_SPEECH = 50362;
const EOT = 50257;
const TB = 50364;
const THE = 264;
const HELLO = 7751;
const WORLD = 1002;
const seconds = (s: number) => new Float32Array(Math.round(s * 16000));

/** Index of the first sampled token: after the prompt, SOT, language and task (and notimestamps). */
function sampled(tokens: readonly number[]): number[] {
  const sot = tokens.indexOf(SOT);
  const begin = sot + (tokens[sot + 3] === 50363 ? 4 : 3);
  return tokens.slice(begin);
}

/** A script that says `sequence` (one token per position) and then EOT, every other token at 0. */
function says(sequence: readonly number[], options: { noSpeech?: boolean } = {}): Script {
  return (tokens, logits) => {
    if (tokens.length === 1 || tokens[tokens.length - 1] === SOT) {
      // The logits at SOT: what no-speech probability is read from.
      if (options.noSpeech) logits[NO_SPEECH] = 30;
    }
    const n = sampled(tokens).length;
    logits[n < sequence.length ? sequence[n] : EOT] = 20;
  };
}

/** Uniform text for three tokens, then EOT: avg logprob near -8, far below -1. */
const MUMBLES: Script = (tokens, logits) => {
  if (tokens[tokens.length - 1] === SOT) logits[NO_SPEECH] = -100;
  logits[EOT] = sampled(tokens).length >= 3 ? 40 : -Infinity;
};

async function run(model: ScriptedModel, audio: Float32Array, options: TranscribeOptions): Promise<{ result: TranscriptionResult; progress: TranscribeProgress[] }> {
  const progress: TranscribeProgress[] = [];
  const stream = transcribeSamples(model, audio, resolveTranscribeOptions({ language: 'en', seed: 1, ...options }), { onProgress: (p) => progress.push(p) });
  for (;;) {
    const next = await stream.next();
    if (next.done) return { result: next.value, progress };
  }
}

test('cutWindow: segments close at timestamp pairs; a single timestamp ending consumes the window', () => {
  const g = { timeOffset: 10, segmentFrames: 3000, inputStride: 2, timePrecision: 0.02 };
  const single = cutWindow([TB, HELLO, TB + 50, TB + 50, WORLD, TB + 100], TB, g);
  assert.deepEqual(single.segments.map((s) => [s.start, s.end, s.tokens.length]), [[10, 11, 3], [11, 12, 3]]);
  assert.equal(single.singleTimestampEnding, true);
  assert.equal(single.seekFrames, 3000);
  const open = cutWindow([TB, HELLO, TB + 50, TB + 50, WORLD], TB, g);
  assert.deepEqual(open.segments.map((s) => [s.start, s.end]), [[10, 11]]);
  assert.equal(open.seekFrames, 100, 'resume at the last closing timestamp');
  const none = cutWindow([TB, HELLO, WORLD, TB + 75], TB, { ...g, segmentFrames: 1200 });
  assert.deepEqual(none.segments.map((s) => [s.start, s.end]), [[10, 11.5]]);
  assert.equal(none.seekFrames, 1200);
  const text = cutWindow([HELLO, WORLD], TB, { ...g, segmentFrames: 1200 });
  assert.deepEqual(text.segments.map((s) => [s.start, s.end]), [[10, 22]]);
  // openai's order, frames * HOP_LENGTH / SAMPLE_RATE: 35 frames are 0.35 s, where 35 * 0.01 would be 0.35000000000000003.
  const short = cutWindow([HELLO], TB, { ...g, timeOffset: 0, segmentFrames: 35 });
  assert.equal(short.segments[0].end, 0.35);
});

test('seekClips: clip_timestamps in frames, the last end defaulting to the content end', () => {
  assert.deepEqual(seekClips('0', 4500), [[0, 4500]]);
  assert.deepEqual(seekClips('1.5,3,10', 4500), [[150, 300], [1000, 4500]]);
  assert.deepEqual(seekClips([], 100), [[0, 100]]);
  assert.throws(() => seekClips('a', 10), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
});

test('sequential windows driven by timestamps: a single timestamp ending moves on by the whole window', async () => {
  const model = await scriptedModel(says([TB, HELLO, TB + 50, TB + 50, WORLD, TB + 100]));
  const { result, progress } = await run(model, seconds(45), {});
  assert.deepEqual(result.segments.map((s) => [s.id, s.seek, s.start, s.end, s.text]), [
    [0, 0, 0, 1, ' hello'],
    [1, 0, 1, 2, ' world'],
    [2, 3000, 30, 31, ' hello'],
    [3, 3000, 31, 32, ' world'],
  ]);
  assert.equal(result.text, ' hello world hello world');
  assert.deepEqual(progress.at(-1), { doneSeconds: 45, totalSeconds: 45 });
  // condition_on_previous_text: the second window is prompted with everything decoded before it.
  const secondPrefill = model.runners.at(-1)!.prefills[0][0];
  assert.deepEqual(secondPrefill, [SOT_PREV, TB, HELLO, TB + 50, TB + 50, WORLD, TB + 100, SOT, 50259, 50359]);
});

test('an unfinished last segment is dropped and the next window starts at its opening timestamp', async () => {
  const model = await scriptedModel(says([TB, HELLO, TB + 50, TB + 50, WORLD]));
  const { result } = await run(model, seconds(3), { conditionOnPreviousText: false });
  assert.deepEqual(result.segments.map((s) => [s.seek, s.start, s.end]), [[0, 0, 1], [100, 1, 2], [200, 2, 3]]);
  assert.equal(sampled(model.runners[1].prefills[0][0]).length, 0);
  assert.equal(model.runners[1].prefills[0][0][0], SOT, 'no prompt without condition_on_previous_text');
});

test('temperature fallback on a low average log-probability: every temperature is tried, the last kept', async () => {
  const model = await scriptedModel(MUMBLES);
  const { result } = await run(model, seconds(5), { withoutTimestamps: true });
  assert.equal(model.runners.length, 6);
  assert.deepEqual(result.segments.map((s) => s.temperature), [1]);
  assert.ok(result.segments[0].avgLogprob < -1);
  const single = await scriptedModel(MUMBLES);
  await run(single, seconds(5), { withoutTimestamps: true, logprobThreshold: null });
  assert.equal(single.runners.length, 1, 'no logprob threshold, no fallback');
});

test('temperature fallback on a compression ratio above 2.4, off when the threshold is null', async () => {
  const repeats = says(Array.from({ length: 60 }, () => THE));
  const model = await scriptedModel(repeats);
  const { result } = await run(model, seconds(5), { withoutTimestamps: true });
  assert.equal(model.runners.length, 6);
  assert.ok(result.segments[0].compressionRatio > 2.4);
  assert.ok(result.segments[0].avgLogprob > -0.01);
  const plain = await scriptedModel(repeats);
  const { result: kept } = await run(plain, seconds(5), { withoutTimestamps: true, compressionRatioThreshold: null });
  assert.equal(plain.runners.length, 1);
  assert.equal(kept.segments[0].temperature, 0);
  const good = await scriptedModel(says([HELLO, WORLD]));
  const { result: fine } = await run(good, seconds(5), { withoutTimestamps: true });
  assert.equal(good.runners.length, 1);
  assert.equal(fine.text, ' hello world');
});

test('a window with no-speech probability above 0.6 and a poor decode is skipped, without fallback', async () => {
  const silent: Script = (tokens, logits) => {
    MUMBLES(tokens, logits, 0);
    if (tokens[tokens.length - 1] === SOT) logits[NO_SPEECH] = 30;
  };
  const model = await scriptedModel(silent);
  const { result, progress } = await run(model, seconds(45), { withoutTimestamps: true });
  assert.deepEqual(result.segments, []);
  assert.equal(result.text, '');
  assert.equal(model.runners.length, 2, 'one decode per window: silence is not a failure');
  assert.deepEqual(progress.at(-1), { doneSeconds: 45, totalSeconds: 45 });
  // A confident decode is kept even when the no-speech probability is high.
  const confident = await scriptedModel(says([HELLO, WORLD], { noSpeech: true }));
  const { result: kept } = await run(confident, seconds(5), { withoutTimestamps: true });
  assert.equal(kept.text, ' hello world');
  assert.ok(kept.segments[0].noSpeechProb > 0.6);
});

test('the prompt is reset after a window decoded at a temperature above 0.5', async () => {
  const model = await scriptedModel(MUMBLES);
  await run(model, seconds(45), { withoutTimestamps: true });
  assert.equal(model.runners.length, 12);
  for (const runner of model.runners.slice(6)) assert.equal(runner.prefills[0][0][0], SOT);
  const kept = await scriptedModel(MUMBLES);
  await run(kept, seconds(45), { withoutTimestamps: true, temperature: [0, 0.4] });
  assert.equal(kept.runners[2].prefills[0][0][0], SOT_PREV, 'at 0.4 the previous text still prompts');
});

test('initial_prompt prompts the first window and stays out of the text', async () => {
  const model = await scriptedModel(says([TB, HELLO, TB + 50]));
  const { result } = await run(model, seconds(5), { initialPrompt: '  world ' });
  assert.deepEqual(model.runners[0].prefills[0][0], [SOT_PREV, WORLD, SOT, 50259, 50359]);
  assert.equal(result.text, ' hello');
});

test('language detection runs on the first window when no language is given; English-only models skip it', async () => {
  const detect: Script = (tokens, logits) => {
    if (tokens.length === 1) logits[50262] = 10; // <|es|>
    else says([TB, HELLO, TB + 50])(tokens, logits, 0);
  };
  const model = await scriptedModel(detect);
  const languages: string[] = [];
  const stream = transcribeSamples(model, seconds(5), resolveTranscribeOptions({}), { onLanguage: (l) => languages.push(l) });
  let next = await stream.next();
  while (!next.done) next = await stream.next();
  assert.equal(next.value.language, 'es');
  assert.ok(next.value.languageProbs!.es > 0.99);
  assert.deepEqual(languages, ['es']);
  assert.equal(model.runners[1].prefills[0][0][1], 50262);
  const english = await scriptedModel(says([TB, HELLO, TB + 50]), { multilingual: false });
  const { result } = await run(english, seconds(5), { language: undefined });
  assert.equal(result.language, 'en');
  assert.equal(english.runners.length, 1);
  await assert.rejects(run(english, seconds(5), { task: 'translate' }), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
});

test('transcribe options: defaults are openai transcribe()’s; bad values are named', () => {
  const s = resolveTranscribeOptions({});
  assert.deepEqual(s.temperature, [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.equal(s.compressionRatioThreshold, 2.4);
  assert.equal(s.logprobThreshold, -1);
  assert.equal(s.noSpeechThreshold, 0.6);
  assert.equal(s.conditionOnPreviousText, true);
  assert.equal(resolveTranscribeOptions({ temperature: 0.3 }).temperature.length, 1);
  assert.throws(() => resolveTranscribeOptions({ temperature: -1 }), /temperature/);
  assert.throws(() => resolveTranscribeOptions({ beamSize: 0 }), /beamSize/);
  assert.throws(() => resolveTranscribeOptions({ task: 'x' as 'translate' }), /task/);
});
