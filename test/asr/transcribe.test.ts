/** The library's transcribe(): the model's kind picks the engine, and align: adds forced alignment. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { transcribe } from '../../src/asr/index.js';
import { alignTranscript, loadCtcModel, recognizeCtc } from '../../src/asr/ctc/index.js';
import { transcribe as transcribeWhisper } from '../../src/asr/whisper/index.js';
import { decodeAudio } from '../../src/audio/index.js';
import { isMoxingError } from '../../src/errors.js';
import { ensureWav2Vec2Model } from '../models/wav2vec2.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';

const SHARED = resolve(process.cwd(), '../shared');
const WHISPER = ensureWhisperModelSync(TERSE_WHISPER);
const CLIP = join(SHARED, 'audio/dev/single/en_000.wav');
const greedy = { temperature: 0, language: 'en' } as const;

test('a CTC model is recognised with greedy CTC: the same result as recognizeCtc', async () => {
  const ctc = ensureWav2Vec2Model();
  const routed = await transcribe(CLIP, { model: ctc });
  const direct = await recognizeCtc(await decodeAudio(CLIP), await loadCtcModel(ctc));
  assert.deepEqual(routed, direct);
});

test('align: true or an aligner gives the Whisper segments with force-aligned words', async () => {
  const aligner = ensureWav2Vec2Model();
  const aligned = await transcribe(CLIP, { model: WHISPER, ...greedy, align: aligner });
  const plain = await transcribeWhisper(CLIP, { model: WHISPER, ...greedy });
  const expected = await alignTranscript(await decodeAudio(CLIP), plain.segments, await loadCtcModel(aligner), { language: plain.language });
  assert.equal(aligned.text, plain.text);
  assert.deepEqual(aligned.segments, expected.segments);
  assert.ok(aligned.segments.some((s) => (s.words?.length ?? 0) > 0));
});

test('options a CTC model cannot honour are refused, not ignored', async () => {
  await assert.rejects(
    transcribe(CLIP, { model: ensureWav2Vec2Model(), beamSize: 5, wordTimestamps: true }),
    (e) => isMoxingError(e, 'BAD_ARGUMENT') && /beamSize, wordTimestamps apply to Whisper models only/.test(e.message),
  );
});
