/**
 * Cross-request batching (DecodeScheduler) end to end: concurrent transcriptions decoded in shared batches give
 * each transcription exactly what transcribing it alone gives (tokens, text, figures), through both the
 * sequential and the batched (VAD) pipeline, with the fixture model and real dev clips.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DecodeScheduler, WhisperModel, transcribe } from '../../../../src/asr/whisper/index.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../../../models/index.js';

describe('asr/whisper/batched/scheduler (slow)', () => {
  const SHARED = join(process.cwd(), '..', 'shared');
  const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
  const CLIPS = ['en_000', 'de_010', 'es_020', 'en_010'].map((name) => join(SHARED, 'audio', 'dev', 'single', `${name}.wav`));
  let model: WhisperModel;
  before(async () => {
    model = await WhisperModel.load(MODEL, { runtime: { intraOpThreads: 1 } });
  });

  test('concurrent transcriptions through the scheduler equal one-by-one transcriptions (sequential and VAD pipelines)', async () => {
    const pipelines = [
      { language: 'en', temperature: 0, sampleLen: 24 },
      { temperature: 0, sampleLen: 24, vad: true, batchSize: 4, conditionOnPreviousText: false },
    ] as const;
    for (const options of pipelines) {
      const alone = [];
      for (const clip of CLIPS) alone.push(await transcribe(clip, { ...options, model }));
      const scheduler = new DecodeScheduler({ maxBatch: 8, gatherMs: 20 });
      const together = await Promise.all(CLIPS.map((clip) => transcribe(clip, { ...options, model, windowDecoder: scheduler })));
      assert.deepEqual(together, alone, JSON.stringify(options));
      assert.ok(scheduler.stats.requests >= CLIPS.length, `the scheduler decoded the windows (${JSON.stringify(scheduler.stats)})`);
    }
  });
});
