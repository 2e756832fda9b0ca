/**
 * The embedded job backend across a restart: a shutdown past its grace leaves the running job queued, and the
 * next start runs it to the end from its checkpoint (65 s of audio: three windows).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EmbeddedJobs } from '../../src/jobs/index.js';
import { SpeechModels } from '../../src/server/speech-models.js';
import { cutData, withDataSize } from '../audio/wav-writer.js';
import { LONG_CLIPS, MODEL, tempDir, until } from './helpers.js';

test('shutdown past the grace leaves a running job queued; the next start runs it to the end; the events say each step', async () => {
  const tmp = tempDir('moxing-jobs-stop-');
  const speech = new SpeechModels();
  const options = { dataDir: tmp.dir, jobConcurrency: 1, jobTtlMs: 0, allowPrivateWebhooks: false, webhookMaxAttempts: 1, webhookBackoffMs: 1, webhookTimeoutMs: 1000, useModel: speech.use.bind(speech) };
  const request = { model: MODEL, task: 'transcribe' as const, fields: { granularities: [], temperature: 0, temperature_inc: 0 }, baseUrl: 'http://localhost' };
  const first = new EmbeddedJobs(options);
  const seen: string[] = [];
  for (const event of ['queued', 'started', 'requeued', 'completed'] as const) first.events.on(event, () => seen.push(event));
  // 65 s of a long clip (16-bit mono at 16 kHz): three windows, so the shutdown, asked for after the first, finds
  // work left; the restart continues from the checkpoint.
  const dataBytes = 65 * 16000 * 2;
  const job = await first.submit(request, Buffer.from(withDataSize(cutData(readFileSync(LONG_CLIPS[0]), dataBytes), dataBytes)));
  await until(() => first.get(job.id), (j) => (j?.audioSecondsDone ?? 0) > 0);
  await first.close(0);
  assert.deepEqual(seen, ['queued', 'started', 'requeued']);
  const second = new EmbeddedJobs(options);
  try {
    const completed = new Promise<{ audioSeconds: number; durationMs: number }>((resolve) => second.events.once('completed', resolve));
    const done = await until(() => second.get(job.id), (j) => j?.status === 'succeeded');
    assert.equal(done!.runs, 2);
    assert.deepEqual(second.history(job.id).map((e) => `${e.event}@${e.run}`), ['queued@0', 'started@1', 'requeued:shutdown@1', 'started@2', 'succeeded@2']);
    const event = await completed;
    assert.equal(event.audioSeconds, done!.audioSeconds);
    assert.ok(event.durationMs > 0);
    assert.deepEqual(await second.depth(), { queued: 0, running: 0 });
    assert.equal(await second.reachable(), true);
  } finally {
    await second.close();
    tmp.cleanup();
  }
});
