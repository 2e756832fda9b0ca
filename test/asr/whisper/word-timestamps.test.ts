/**
 * The word-timestamp side of transcribe(): alignment-head choice, openai's hallucination-silence rule on
 * planted cases and the errors of a model without cross attentions (the options reaching the loop are in
 * word-timestamps.slow.test.ts).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { resolveTranscribeOptions, transcribe, transcribeSamples, type Word } from '../../../src/asr/index.js';
import { isSegmentAnomaly, resolveAlignmentHeads, skipHallucinations, wordAnomalyScore } from '../../../src/asr/whisper/word-timestamps.js';
import { decodeAudio } from '../../../src/audio/index.js';
import { releaseSessions } from '../../../src/runtime/index.js';
import { SHARED } from './fidelity.js';
import { loadTimestampedFixture } from './words.js';

after(() => releaseSessions());

const word = (w: string, start: number, end: number, probability: number): Word => ({ word: w, start, end, probability });

test('alignment heads: generation_config.json\'s, openai\'s default upper half, or explicit pairs', () => {
  const model = { decoderLayers: 4, decoderHeads: 2, configAlignmentHeads: [[3, 1]] as [number, number][] };
  assert.deepEqual(resolveAlignmentHeads('config', model), [[3, 1]]);
  assert.deepEqual(resolveAlignmentHeads('default', model), [[2, 0], [2, 1], [3, 0], [3, 1]]);
  assert.deepEqual(resolveAlignmentHeads('config', { ...model, configAlignmentHeads: undefined }), [[2, 0], [2, 1], [3, 0], [3, 1]]);
  assert.deepEqual(resolveAlignmentHeads([[0, 1]], model), [[0, 1]]);
  assert.throws(() => resolveAlignmentHeads([[4, 0]], model), /\[4,0\] is outside the decoder's 4 layers x 2 heads/);
  assert.throws(() => resolveAlignmentHeads([], model), /empty/);
});

test('openai\'s anomaly score: improbable, very short and very long words', () => {
  assert.equal(wordAnomalyScore(word(' a', 0, 0.5, 0.9)), 0);
  assert.equal(wordAnomalyScore(word(' a', 0, 0.5, 0.1)), 1);
  assert.ok(Math.abs(wordAnomalyScore(word(' a', 0, 0.033, 0.9)) - 1.5) < 1e-9);
  assert.ok(Math.abs(wordAnomalyScore(word(' a', 0, 3, 0.9)) - 1) < 1e-9);
  assert.equal(isSegmentAnomaly(undefined), false);
  assert.equal(isSegmentAnomaly({ words: [word(' hello', 0, 0.5, 0.9), word(' there', 0.5, 1, 0.9)] }), false);
  assert.equal(isSegmentAnomaly({ words: [word(' uh', 0, 0.05, 0.01)] }), true);
  // Punctuation words are left out (Python's substring test), so a segment of them alone counts as anomalous.
  assert.equal(isSegmentAnomaly({ words: [word('"', 0, 0.5, 0.9)] }), true);
});

test('hallucination silence: a lone anomalous first segment after a long gap skips the window to it', () => {
  const window = { threshold: 1, seek: 3000, previousSeek: 0, segmentSize: 3000, contentFrames: 3000, singleTimestampEnding: true, lastSpeechTimestamp: 0 };
  const segments = [{ start: 2.5, end: 3, words: [word(' a', 2.5, 2.55, 0.01)] }];
  assert.deepEqual(skipHallucinations(segments, window), { seek: 250, keep: 0, dropWindow: true });
});

test('hallucination silence: an anomaly surrounded by silence is cut and the next window starts at it', () => {
  const window = { threshold: 1, seek: 2000, previousSeek: 0, segmentSize: 3000, contentFrames: 3000, singleTimestampEnding: false, lastSpeechTimestamp: 0 };
  const segments = [
    { start: 0.5, end: 1.5, words: [word(' hello', 0.5, 1, 0.9), word(' there', 1, 1.5, 0.9)] },
    { start: 5, end: 5.05, words: [word(' uh', 5, 5.05, 0.01)] },
  ];
  assert.deepEqual(skipHallucinations(segments, window), { seek: 500, keep: 1, dropWindow: false });
  // Without anomalies: resume after the last word, or at the window end when the remaining silence is short.
  const normal = [{ start: 29, end: 29.5, words: [word(' fine', 29, 29.5, 0.9)] }];
  assert.deepEqual(skipHallucinations(normal, window), { seek: 3000, keep: 1, dropWindow: false });
  assert.deepEqual(skipHallucinations([{ start: 3, end: 4, words: [word(' fine', 3, 4, 0.9)] }], window), { seek: 400, keep: 1, dropWindow: false });
});

test('word timestamps need cross attentions: a clear error naming the timestamped export', async () => {
  const plain = await loadTimestampedFixture('decoder_model_merged.onnx');
  const audio = await decodeAudio(join(SHARED, 'audio/dev/words/en_words_00.wav'));
  await assert.rejects(transcribe(audio, { model: plain, wordTimestamps: true, temperature: 0 }), /cross_attentions\.0.*decoder_model_merged_timestamped\.onnx/);
  // A model with no word-timing side at all (a stand-in) fails before any decoding.
  const standIn = { tokenizer: plain.tokenizer, dims: plain.dims, nTextCtx: plain.nTextCtx, nAudioCtx: plain.nAudioCtx, isMultilingual: true, encode: plain.encode.bind(plain), createRunner: plain.createRunner.bind(plain) };
  const stream = transcribeSamples(standIn, audio, resolveTranscribeOptions({ wordTimestamps: true, language: 'en' }));
  await assert.rejects(stream.next(), /cannot give word timestamps/);
  assert.throws(() => resolveTranscribeOptions({ hallucinationSilenceThreshold: 2 }), /needs wordTimestamps/);
  assert.throws(() => resolveTranscribeOptions({ wordTimestamps: true, alignmentHeads: 'upper' as 'default' }), /alignmentHeads/);
});
