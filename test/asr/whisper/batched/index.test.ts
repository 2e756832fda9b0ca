/**
 * The batched pipeline (VAD windows, batched encoder and decoder) against window-by-window decoding of the
 * same windows with the shared fixture model, plus WhisperX's merge rule, the streaming window reader, and
 * inputs with no speech at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  WhisperModel,
  decodeFeatures,
  findWindows,
  fixedWindows,
  mergeSpeechRegions,
  rejectSequentialOnly,
  resolveBatchedOptions,
  transcribe,
  transcribeWindows,
  WindowReader,
  resolveTranscribeOptions,
} from '../../../../src/asr/whisper/index.js';
import { decodeAudio, logMelSpectrogram, padOrTrim, SAMPLE_RATE } from '../../../../src/audio/index.js';
import { isMoxingError } from '../../../../src/errors.js';
import { batchedFromCli } from '../../../../src/cli/transcribe-batched.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../../../models/index.js';

const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
const LONG = join(process.cwd(), '..', 'shared', 'audio', 'dev', 'long', 'en_long_00.wav');
const S = SAMPLE_RATE;

async function* chunked(samples: Float32Array, size: number): AsyncGenerator<Float32Array> {
  for (let s = 0; s < samples.length; s += size) yield samples.subarray(s, s + size);
}

test('merge_chunks: regions grouped while the group spans at most 30 s of the original audio', () => {
  const regions = [
    { start: 0, end: 10 * S },
    { start: 12 * S, end: 25 * S },
    { start: 26 * S, end: 31 * S }, // would make the group 31 s: starts a new window
    { start: 40 * S, end: 50 * S },
    { start: 60 * S, end: 100 * S }, // longer than 30 s: cut into pieces
  ];
  assert.deepEqual(mergeSpeechRegions(regions), [
    { start: 0, end: 25 * S },
    { start: 26 * S, end: 50 * S },
    { start: 60 * S, end: 90 * S },
    { start: 90 * S, end: 100 * S },
  ]);
  assert.deepEqual(mergeSpeechRegions([]), []);
  assert.deepEqual(fixedWindows(65 * S), [
    { start: 0, end: 30 * S },
    { start: 30 * S, end: 60 * S },
    { start: 60 * S, end: 65 * S },
  ]);
});

test('WindowReader gives each window exactly the samples of the whole input, whatever the chunking', async () => {
  const samples = Float32Array.from({ length: 10_000 }, (_, i) => Math.sin(i));
  const windows = [
    { start: 5, end: 700 },
    { start: 700, end: 701 },
    { start: 2500, end: 6000 },
    { start: 9000, end: 10_500 }, // past the end: zeros
  ];
  for (const size of [1, 333, 4096, 20_000]) {
    const reader = new WindowReader(chunked(samples, size));
    for (const w of windows) {
      const got = await reader.read(w);
      const want = new Float32Array(w.end - w.start);
      want.set(samples.subarray(w.start, Math.min(w.end, samples.length)));
      assert.deepEqual(got, want, `chunk ${size}, window ${w.start}`);
    }
    await reader.close();
  }
});

test('options: vad or batchSize turn the pipeline on; bad values are refused', () => {
  assert.equal(resolveBatchedOptions({}), undefined);
  assert.equal(resolveBatchedOptions({ vad: false }), undefined);
  assert.equal(resolveBatchedOptions({ vad: true })?.batchSize, 8);
  assert.equal(resolveBatchedOptions({ vad: true })?.encoderBatchSize, 1);
  assert.equal(resolveBatchedOptions({ batchSize: 4, encoderBatchSize: 9 })?.encoderBatchSize, 4);
  assert.equal(resolveBatchedOptions({ batchSize: 2 })?.vad?.minSilenceMs, 2000);
  assert.equal(resolveBatchedOptions({ batchSize: 2, vad: false })?.vad, null);
  assert.equal(resolveBatchedOptions({ vad: { minSilenceMs: 500 } })?.vad?.minSilenceMs, 500);
  assert.throws(() => resolveBatchedOptions({ batchSize: 0 }), (e) => isMoxingError(e) && /batchSize/.test(e.message));
  assert.throws(() => resolveBatchedOptions({ vad: { threshold: 2 } }), (e) => isMoxingError(e) && /threshold/.test(e.message));
});

test('CLI flags: --vad or --batch-size choose the batched pipeline with the VAD thresholds given', () => {
  assert.deepEqual(batchedFromCli({}), {});
  const flags = batchedFromCli({ vad: true, vadThreshold: 0.6, minSilenceMs: 500 });
  assert.equal(flags.batchSize, 8);
  const settings = resolveBatchedOptions(flags);
  assert.equal(settings?.vad?.threshold, 0.6);
  assert.equal(settings?.vad?.minSilenceMs, 500);
  assert.equal(settings?.vad?.speechPadMs, 400);
  assert.equal(resolveBatchedOptions(batchedFromCli({ batchSize: 4 }))?.batchSize, 4);
  // VAD flags without --vad or --batch-size would do nothing: they are refused, naming the flags and the fix.
  assert.throws(() => batchedFromCli({ vadThreshold: 0.6, speechPadMs: 100 }), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /--vad-threshold, --speech-pad-ms .*add --vad/.test(e.message));
});

test('batched decoding equals window-by-window decoding of the same windows; times map back monotonic', async () => {
  const model = await WhisperModel.load(MODEL, { runtime: { intraOpThreads: 1 } });
  const samples = (await decodeAudio(LONG)).subarray(0, 75 * S);
  const vad = resolveBatchedOptions({ vad: { minSilenceMs: 500 }, batchSize: 3 });
  assert.ok(vad);
  const settings = resolveTranscribeOptions({ language: 'en', temperature: 0, sampleLen: 12, noSpeechThreshold: null });
  const found = await findWindows(chunked(samples, 7 * S), vad.vad);
  assert.ok(found.windows.length >= 3, `want several windows, got ${found.windows.length}`);

  const stream = transcribeWindows(model, { ...found, reader: new WindowReader(chunked(samples, 11 * S)) }, settings, vad);
  let next = await stream.next();
  while (!next.done) next = await stream.next();
  const batched = next.value;

  const single: number[][] = [];
  for (const w of found.windows) {
    const mel = logMelSpectrogram(padOrTrim(samples.subarray(w.start, w.end)), 80).data;
    const [result] = await decodeFeatures(model, await model.encode(mel), { language: 'en', withoutTimestamps: true, sampleLen: 12 });
    // The batched pipeline keeps a window's text tokens (faster-whisper's `t < eot`): a stray timestamp token goes.
    single.push(result.tokens.filter((t) => t < model.tokenizer.eot));
  }
  assert.equal(batched.segments.length, found.windows.length);
  batched.segments.forEach((segment, i) => {
    assert.deepEqual(segment.tokens, single[i], `window ${i}`);
    assert.equal(segment.start, Math.round((found.windows[i].start / S) * 100) / 100);
    assert.ok(segment.end > segment.start && segment.end <= 75);
    if (i > 0) assert.ok(segment.start >= batched.segments[i - 1].end, 'segments in order, not overlapping');
  });
  assert.equal(batched.language, 'en');

  // The public entry on the same samples gives the same segments.
  const viaTranscribe = await transcribe(samples, { model, language: 'en', temperature: 0, sampleLen: 12, noSpeechThreshold: null, batchSize: 3, vad: { minSilenceMs: 500 } });
  assert.deepEqual(viaTranscribe.segments, batched.segments);
  // Encoder runs of 2 windows (and a last one of 1) feed the same decoder batch.
  const pairs = await transcribe(samples, { model, language: 'en', temperature: 0, sampleLen: 12, noSpeechThreshold: null, batchSize: 3, encoderBatchSize: 2, vad: { minSilenceMs: 500 } });
  assert.deepEqual(pairs.segments.map((x) => x.tokens), single);
});

test('silence, white noise and steady tones give no text', async () => {
  const model = await WhisperModel.load(MODEL, { runtime: { intraOpThreads: 1 } });
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const inputs: Record<string, Float32Array> = {
    silence: new Float32Array(40 * S),
    noise: Float32Array.from({ length: 40 * S }, () => 0.3 * random()),
    tones: Float32Array.from({ length: 40 * S }, (_, i) => {
      const note = [262, 330, 392, 523][Math.floor(i / (S / 2)) % 4]; // a C major arpeggio, half a second a note
      return 0.3 * Math.sin((2 * Math.PI * note * i) / S) + 0.1 * Math.sin((4 * Math.PI * note * i) / S);
    }),
  };
  for (const [name, samples] of Object.entries(inputs)) {
    const result = await transcribe(samples, { model, language: 'en', vad: true, sampleLen: 8 });
    assert.equal(result.text, '', name);
    assert.deepEqual(result.segments, [], name);
    assert.equal(result.duration, 40);
  }
});

test('options only the sequential loop can follow are refused by the batched pipeline, never ignored', async () => {
  const refused = (pattern: RegExp) => (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && pattern.test(e.message) && /--vad, --batch-size/.test(e.message);
  const audio = new Float32Array(S);
  // Refused before the model loads: the model reference is never looked at.
  await assert.rejects(transcribe(audio, { vad: true, model: 'not-a-model', conditionOnPreviousText: true }), refused(/conditionOnPreviousText: true .*set it to false/));
  await assert.rejects(transcribe(audio, { batchSize: 2, model: 'not-a-model', clipTimestamps: '5,10' }), refused(/clipTimestamps/));
  await assert.rejects(transcribe(audio, { vad: true, model: 'not-a-model', clipTimestamps: [1] }), refused(/clipTimestamps/));
  await assert.rejects(transcribe(audio, { vad: true, model: 'not-a-model', wordTimestamps: true }), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /word timestamps/.test(e.message));
  // What the batched pipeline does anyway is accepted: no conditioning, the whole input, words off.
  for (const ok of [{ conditionOnPreviousText: false }, { clipTimestamps: '0' }, { clipTimestamps: [0] }, { wordTimestamps: false }, { carryInitialPrompt: true }, {}]) {
    assert.doesNotThrow(() => rejectSequentialOnly(ok), JSON.stringify(ok));
  }
});

test('carryInitialPrompt is honoured in the batched pipeline: every window is prompted with initialPrompt either way', async () => {
  const model = await WhisperModel.load(MODEL);
  const samples = (await decodeAudio(LONG)).subarray(0, 70 * S);
  const base = { model, vad: false, batchSize: 2, temperature: 0, initialPrompt: 'Names: Moxing, Whisper.' } as const;
  const carried = await transcribe(samples, { ...base, carryInitialPrompt: true });
  const plain = await transcribe(samples, { ...base, carryInitialPrompt: false });
  assert.equal(carried.segments.length, 3);
  assert.deepEqual(carried, plain);
});
