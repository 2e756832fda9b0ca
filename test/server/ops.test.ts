/**
 * Operations: GET /ready with its checks, GET /metrics (Prometheus text, route patterns, speech and job
 * figures, auth), request ids and the redacted JSON log, and createServer's listen and close.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildApp, createServer } from '../../src/server/index.js';
import { decodeAudio } from '../../src/audio/index.js';
import { MoxingError } from '../../src/errors.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';
import { scratchDir } from '../helpers/scratch.js';

const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
const CLIP = resolve(process.cwd(), '../shared/audio/dev/single/en_000.wav');
const KEY = 'ops-key-5d1e';

/** One sample's value in Prometheus text, or undefined. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('/ready', () => {
  test('preloaded models: ready once they are loaded', async () => {
    const app = await buildApp({ images: false, calc: false, models: [MODEL], audio: { preload: true } });
    after(() => app.close());
    await app.ready();
    await app.speechModels!.preload(); // shares the load the app started
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { models: { ok: true } } });
    assert.deepEqual(app.speechModels!.notLoaded(), []);
  });

  test('a preload that fails keeps /ready at 503, naming the check, no paths', async () => {
    const broken = scratchDir('moxing-ops-broken-');
    writeFileSync(join(broken, 'config.json'), '{}');
    const app = await buildApp({ images: false, calc: false, models: [broken], audio: { preload: true } });
    after(() => app.close());
    await app.ready();
    await app.speechModels!.preload().catch(() => undefined);
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 503);
    const body = ready.json() as { status: string; checks: { models: { ok: boolean; detail: string } } };
    assert.equal(body.status, 'not ready');
    assert.equal(body.checks.models.ok, false);
    assert.match(body.checks.models.detail, /^preloading failed/);
    assert.ok(!ready.body.includes(tmpdir()), ready.body);
  });

  test('registered checks decide too; a throwing check fails with its message redacted', async () => {
    const app = await buildApp({ images: false, calc: false });
    after(() => app.close());
    let queueUp = false;
    app.readiness.add('queue', () => queueUp || 'queue not reachable');
    const down = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(down.statusCode, 503);
    assert.deepEqual(down.json().checks, { queue: { ok: false, detail: 'queue not reachable' } });
    queueUp = true;
    assert.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
    app.readiness.add('store', async () => {
      throw new Error('cannot open /srv/secret/jobs.sqlite');
    });
    const thrown = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(thrown.statusCode, 503);
    assert.equal(thrown.json().checks.store.detail, 'cannot open …/jobs.sqlite');
    // Liveness stays plain whatever readiness says.
    assert.deepEqual((await app.inject({ method: 'GET', url: '/health' })).json(), { status: 'ok' });
  });
});

describe('/metrics', () => {
  test('requests by route pattern and status, never the raw URL; job and queue hooks', async () => {
    const app = await buildApp({ images: false, calc: {} });
    after(() => app.close());
    await app.inject({ method: 'GET', url: '/health' });
    await app.inject({ method: 'GET', url: '/health' });
    await app.inject({ method: 'GET', url: '/v1/no-such-route-7781' });
    await app.inject({ method: 'POST', url: '/v1/calc/params', payload: { model: 'llama-7b' } });
    app.metrics.observeJob('completed', 3);
    app.metrics.trackQueueDepth(async () => 7);
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    const text = response.body;
    assert.equal(sample(text, 'moxing_http_requests_total{method="GET",route="/health",status="200"}'), 2);
    assert.equal(sample(text, 'moxing_http_requests_total{method="GET",route="unmatched",status="404"}'), 1);
    assert.equal(sample(text, 'moxing_http_requests_total{method="POST",route="/v1/calc/params",status="200"}'), 1);
    assert.equal(sample(text, 'moxing_http_request_duration_seconds_count{method="GET",route="/health"}'), 2);
    assert.ok(!text.includes('no-such-route-7781'));
    assert.equal(sample(text, 'moxing_job_duration_seconds_count{status="completed"}'), 1);
    assert.equal(sample(text, 'moxing_job_duration_seconds_sum{status="completed"}'), 3);
    assert.equal(sample(text, 'moxing_queue_depth'), 7);
    assert.equal(sample(text, 'moxing_work_in_flight'), 0);
    assert.equal(sample(text, 'moxing_work_queued'), 0);
    assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0);
  });

  test('a transcription counts its audio seconds, real-time factor and model load', async () => {
    const server = await createServer({ port: 0, images: false, calc: false, models: [MODEL] });
    after(() => server.close());
    const base = await server.listen();
    const form = new FormData();
    form.set('file', new Blob([readFileSync(CLIP)]), 'clip.wav');
    form.set('model', 'whisper-1');
    form.set('temperature_inc', '0');
    const answer = await fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body: form });
    assert.equal(answer.status, 200, await answer.clone().text());
    const seconds = (await decodeAudio(CLIP)).length / 16000;
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.ok(Math.abs(sample(text, 'moxing_audio_seconds_total{task="transcribe"}')! - seconds) < 1e-6);
    assert.equal(sample(text, 'moxing_real_time_factor_count{task="transcribe"}'), 1);
    assert.equal(sample(text, 'moxing_model_load_seconds_count'), 1);
    assert.equal(sample(text, 'moxing_models_loaded'), 1);
    assert.ok(sample(text, 'moxing_model_memory_bytes')! > 1_000_000);
    assert.equal(sample(text, 'moxing_http_requests_total{method="POST",route="/v1/audio/transcriptions",status="200"}'), 1);
  });

  test('follows the API key (unless publicMetrics); /health and /ready never need it', async () => {
    const locked = await buildApp({ images: false, calc: false, audio: false, security: { apiKey: KEY } });
    const open = await buildApp({ images: false, calc: false, audio: false, security: { apiKey: KEY, publicMetrics: true } });
    after(() => Promise.all([locked.close(), open.close()]));
    assert.equal((await locked.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    assert.equal((await locked.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${KEY}` } })).statusCode, 200);
    assert.equal((await open.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    for (const url of ['/health', '/ready']) assert.equal((await locked.inject({ method: 'GET', url })).statusCode, 200, url);
  });
});

describe('request ids and the JSON log', () => {
  test('a sane x-request-id is kept and echoed; anything else gets a new UUID', async () => {
    const app = await buildApp({ images: false, calc: false, audio: false, security: { apiKey: KEY } });
    after(() => app.close());
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const kept = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-01:ab.c_d' } });
    assert.equal(kept.headers['x-request-id'], 'trace-01:ab.c_d');
    for (const bad of ['x'.repeat(129), 'a b', 'id\u00e9', '<script>', '']) {
      const replaced = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': bad } });
      assert.match(replaced.headers['x-request-id'] as string, uuid, JSON.stringify(bad));
    }
    assert.match((await app.inject({ method: 'GET', url: '/health' })).headers['x-request-id'] as string, uuid);
    // Refused requests carry it too.
    const refused = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-request-id': 'refused-1' } });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['x-request-id'], 'refused-1');
  });

  test('log lines are JSON with the request id; the Authorization header and keys are redacted', async () => {
    const lines: string[] = [];
    const app = await buildApp({ images: false, calc: false, audio: false, security: { apiKey: KEY }, logger: { stream: { write: (line) => void lines.push(line) } } });
    after(() => app.close());
    await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${KEY}`, 'x-request-id': 'log-test-1', 'user-agent': 'ops-test' } });
    await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong-key-99', 'x-api-key': 'other-key-42', 'x-request-id': 'log-test-2' } });
    const records = lines.map((l) => JSON.parse(l) as { reqId?: string; req?: { headers: Record<string, string> } });
    const incoming = records.filter((r) => r.req);
    assert.deepEqual(incoming.map((r) => r.reqId), ['log-test-1', 'log-test-2']);
    assert.equal(incoming[0].req!.headers['user-agent'], 'ops-test');
    assert.equal(incoming[0].req!.headers.authorization, '[redacted]');
    assert.equal(incoming[1].req!.headers['x-api-key'], '[redacted]');
    const all = lines.join('');
    for (const secret of [KEY, 'wrong-key-99', 'other-key-42']) assert.ok(!all.includes(secret), `the log holds ${secret}`);
  });
});

describe('createServer', () => {
  test('listens, answers, and closes (twice is fine)', async () => {
    const server = await createServer({ port: 0, images: false, calc: false, audio: false });
    const base = await server.listen();
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await (await fetch(`${base}/health`)).json(), { status: 'ok' });
    await server.close();
    await server.close();
    await assert.rejects(fetch(`${base}/health`));
  });

  test('a port in use is a clear UNAVAILABLE', async () => {
    const first = await createServer({ port: 0, images: false, calc: false, audio: false });
    after(() => first.close());
    const port = Number(new URL(await first.listen()).port);
    const second = await createServer({ port, images: false, calc: false, audio: false });
    const error = await second.listen().catch((e: unknown) => e);
    assert.ok(error instanceof MoxingError && error.code === 'UNAVAILABLE');
    assert.match(error.message, new RegExp(`port ${port}`));
  });
});
