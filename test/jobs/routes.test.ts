/**
 * The job routes in-process over the embedded backend: a job's result is byte-equal to the CLI writers and to
 * /v1/audio/transcriptions' answers; cancel stops a queued and a running job; the list pages with a stable
 * cursor; retention deletes finished jobs and their files; bad requests are refused before anything is stored. The
 * restart after a shutdown past its grace is in restart.slow.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/index.js';
import { EmbeddedJobs } from '../../src/jobs/index.js';
import { transcribe } from '../../src/asr/whisper/index.js';
import { renderTranscript } from '../../src/formats/index.js';
import { form, GREEDY, LONG_CLIPS, MODEL, SHORT_CLIP, settled, tempDir, until } from './helpers.js';

type Job = { id: string; status: string; progress: number; audio_seconds_done: number; audio_seconds: number | null; result_url: string | null; runs: number; timings: { queued_ms: number | null; running_ms: number | null } };

describe('/v1/jobs on the embedded backend', () => {
  const tmp = tempDir('moxing-jobs-');
  let app: FastifyInstance;
  const submit = async (fields: Record<string, string | string[]>, path = SHORT_CLIP) => {
    const { body, type } = await form(fields, { path });
    return app.inject({ method: 'POST', url: '/v1/jobs', payload: body, headers: { 'content-type': type } });
  };
  const get = async (id: string): Promise<Job> => (await app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json();

  before(async () => {
    app = await buildApp({ images: false, calc: false, models: [MODEL], jobs: { dataDir: tmp.dir, jobConcurrency: 1 } });
  });
  after(async () => {
    await app.close();
    tmp.cleanup();
  });

  test('a job\'s result in every format: the CLI writers\' bytes and /v1/audio/transcriptions\' answers', async () => {
    const created = await submit({ ...GREEDY, model: 'whisper-1', 'timestamp_granularities[]': ['word', 'segment'] });
    assert.equal(created.statusCode, 201, created.body);
    const job = created.json() as Job;
    assert.match(job.id, /^job_[A-Za-z0-9_-]{22}$/);
    assert.equal(created.headers.location, `/v1/jobs/${job.id}`);
    const done = await until(() => get(job.id), settled);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.progress, 100);
    assert.ok(done.audio_seconds! > 0 && done.audio_seconds_done === done.audio_seconds);
    assert.equal(done.result_url, `http://localhost:80/v1/jobs/${job.id}/result`);
    assert.equal(done.runs, 1);
    assert.ok(done.timings.running_ms! >= 0 && done.timings.queued_ms! >= 0);

    const library = await transcribe(SHORT_CLIP, { model: MODEL, temperature: 0, wordTimestamps: true });
    for (const format of ['srt', 'vtt', 'txt', 'tsv'] as const) {
      const answer = await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/result?format=${format}` });
      assert.equal(answer.statusCode, 200);
      assert.equal(answer.body, renderTranscript(library, format), format);
    }
    // The same request to /v1/audio/transcriptions (word timestamps need verbose_json there).
    const { body, type } = await form({ ...GREEDY, model: 'whisper-1', response_format: 'verbose_json', 'timestamp_granularities[]': ['word', 'segment'] }, { path: SHORT_CLIP });
    const direct = await app.inject({ method: 'POST', url: '/v1/audio/transcriptions', payload: body, headers: { 'content-type': type } });
    assert.equal((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/result?format=verbose_json` })).body, direct.body);
    const { text, usage } = direct.json() as { text: string; usage: unknown };
    assert.deepEqual((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/result?format=json` })).json(), { text, usage });
    // No format: the job's own response_format, else json.
    assert.deepEqual((await app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/result` })).json(), { text: library.text.trim(), usage: { type: 'duration', seconds: Math.ceil(library.duration!) } });
    // The upload is gone once the job has finished; the result stays.
    assert.deepEqual(readdirSync(join(tmp.dir, 'uploads')), []);
    assert.ok(existsSync(join(tmp.dir, 'results', `${job.id}.json`)));
  });

  test('DELETE cancels a queued job and stops a running one at its next window', async () => {
    const running = (await submit(GREEDY, LONG_CLIPS[0])).json() as Job;
    const queued = (await submit(GREEDY, LONG_CLIPS[1])).json() as Job;
    await until(() => get(running.id), (j) => j.status === 'running' && j.audio_seconds_done > 0);
    assert.equal((await get(queued.id)).status, 'queued');
    const cancelledQueued = await app.inject({ method: 'DELETE', url: `/v1/jobs/${queued.id}` });
    assert.equal(cancelledQueued.json().status, 'cancelled');
    const cancelledRunning = await app.inject({ method: 'DELETE', url: `/v1/jobs/${running.id}` });
    assert.equal(cancelledRunning.json().status, 'cancelled');
    const backend = app.jobs as EmbeddedJobs;
    // The decoding stopped: the worker is free, and neither job ever succeeded.
    await until(async () => backend.depth(), (d) => d.running === 0 && d.queued === 0);
    for (const id of [running.id, queued.id]) {
      assert.ok(!backend.history(id).some((e) => e.event === 'succeeded'), id);
      assert.equal((await get(id)).status, 'cancelled');
      assert.equal((await app.inject({ method: 'GET', url: `/v1/jobs/${id}/result` })).statusCode, 409);
    }
    assert.ok((await get(running.id)).audio_seconds_done < 100, 'it stopped before the end of the audio');
    // A finished job is answered as it is.
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/jobs/${running.id}` })).json().status, 'cancelled');
  });

  test('GET /v1/jobs pages newest first with a stable cursor, and filters by status', async () => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await app.inject({ method: 'GET', url: `/v1/jobs?limit=1${cursor ? `&cursor=${cursor}` : ''}` })).json() as { data: Job[]; next_cursor: string | null; has_more: boolean };
      all.push(...page.data.map((j) => j.id));
      cursor = page.next_cursor;
      assert.equal(page.has_more, cursor !== null);
    } while (cursor);
    const whole = (await app.inject({ method: 'GET', url: '/v1/jobs?limit=100' })).json() as { data: Job[] };
    assert.deepEqual(all, whole.data.map((j) => j.id));
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.length >= 3);
    const cancelled = (await app.inject({ method: 'GET', url: '/v1/jobs?status=cancelled' })).json() as { data: Job[] };
    assert.equal(cancelled.data.length, 2);
    assert.ok(cancelled.data.every((j) => j.status === 'cancelled'));
  });

  test('bad requests are refused, naming the field, and store nothing', async () => {
    const before = readdirSync(join(tmp.dir, 'uploads')).length;
    const cases: [Record<string, string>, string, number][] = [
      [{ frobnicate: '1' }, 'frobnicate', 400],
      [{ task: 'summarise' }, 'task', 400],
      [{ temperature: 'hot' }, 'temperature', 400],
      [{ stream: 'true' }, 'stream', 400],
      [{ beam_size: '2', best_of: '2' }, 'beam_size', 400],
      [{ model: 'whisper-large-v9' }, null as never, 404],
      [{ webhook_url: 'https://example.com/hook' }, 'webhook_secret', 400],
      [{ webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }, 'webhook_url', 400],
      [{ webhook_url: 'ftp://example.com/', webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }, 'webhook_url', 400],
      [{ webhook_url: 'https://example.com/', webhook_secret: 'short' }, 'webhook_secret', 400],
      [{ webhook_url: 'http://127.0.0.1:9/hook', webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }, 'webhook_url', 400],
      [{ webhook_url: 'http://[::ffff:10.0.0.1]/hook', webhook_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }, 'webhook_url', 400],
    ];
    for (const [fields, param, status] of cases) {
      const answer = await submit(fields);
      assert.equal(answer.statusCode, status, JSON.stringify(fields));
      assert.equal(answer.json().error.param, param, JSON.stringify(fields));
    }
    const notAudio = await form({}, { bytes: Buffer.from('this is not audio at all') });
    const refused = await app.inject({ method: 'POST', url: '/v1/jobs', payload: notAudio.body, headers: { 'content-type': notAudio.type } });
    assert.equal(refused.statusCode, 415);
    assert.equal(readdirSync(join(tmp.dir, 'uploads')).length, before);
    const notFound = await app.inject({ method: 'GET', url: '/v1/jobs/job_AAAAAAAAAAAAAAAAAAAAAA' });
    assert.equal(notFound.statusCode, 404);
    for (const url of ['/v1/jobs/../../etc/passwd', '/v1/jobs/x', '/v1/jobs?limit=0', '/v1/jobs?limit=1000', '/v1/jobs?status=done', '/v1/jobs?cursor=%2F..', '/v1/jobs?extra=1', `/v1/jobs?cursor=${Buffer.from('x1').toString('base64url')}`]) {
      const answer = await app.inject({ method: 'GET', url });
      assert.ok(answer.statusCode === 400 || answer.statusCode === 404, `${url}: ${answer.statusCode}`);
    }
  });
});

test('retention: a finished job older than jobTtlMs goes, with its files and its log', async () => {
  const tmp = tempDir('moxing-jobs-ttl-');
  // Audio that does not decode: the job fails at once.
  const backend = new EmbeddedJobs({ dataDir: tmp.dir, jobConcurrency: 1, jobTtlMs: 60_000, allowPrivateWebhooks: false, webhookMaxAttempts: 1, webhookBackoffMs: 1, webhookTimeoutMs: 1000, useModel: () => Promise.reject(new Error('no model here')) });
  try {
    const request = { model: MODEL, task: 'transcribe' as const, fields: { granularities: [] }, baseUrl: 'http://localhost' };
    const job = await backend.submit(request, Buffer.from('not audio'));
    const failed = await until(() => backend.get(job.id), (j) => j?.status === 'failed');
    assert.equal(failed!.error!.code, 'AUDIO_INVALID');
    assert.equal(backend.sweep(failed!.finishedAt! + 59_000), 0);
    assert.ok(await backend.get(job.id));
    assert.equal(backend.sweep(failed!.finishedAt! + 60_000), 1);
    assert.equal(await backend.get(job.id), undefined);
    assert.deepEqual(backend.history(job.id), []);
  } finally {
    await backend.close();
    tmp.cleanup();
  }
});
