/**
 * The realtime socket's models come from the app's pool, as the HTTP routes' do: one load shared with
 * /v1/audio/*, seen by /metrics, held in use while a session streams (its TTL does not unload it mid-session)
 * and idle once the session closes; names outside the served list are an error event.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/index.js';
import { poolKey } from '../../src/server/speech-models.js';
import { SAMPLE_RATE, decodeAudio } from '../../src/audio/index.js';
import { RealtimeClient, appends } from './realtime-client.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');
const KEY = poolKey(MODEL, false);

describe('realtime sessions on the app\'s model pool', () => {
  let app: FastifyInstance;
  let url: string;
  const clock = { now: 1_000_000 };
  let clip: Float32Array;

  before(async () => {
    clip = await decodeAudio(join(SHARED, 'audio/dev/single/en_001.wav'));
    app = await buildApp({ images: false, calc: false, models: [MODEL], audio: { modelTtl: 60, now: () => clock.now, sweepEveryMs: 0 }, realtime: { maxTokens: 16 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/realtime?intent=transcription`;
  });
  after(() => app.close());

  const pool = () => app.speechModels!.pool;
  const entry = () => pool().list().find((e) => e.key === KEY);

  test('a streaming session holds its model through TTL sweeps; once it closes, the model is idle and the TTL unloads it', async () => {
    assert.equal(entry(), undefined, 'nothing loaded before the session');
    const client = await RealtimeClient.open(url);
    await client.next('session.created');
    client.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 16_000 }, transcription: { model: 'whisper-tiny-random', language: 'en' }, turn_detection: null } } } });
    await client.next('session.updated');
    for (const append of appends(clip, SAMPLE_RATE, 0.5)) client.send(append);
    client.send({ type: 'input_audio_buffer.commit' });
    await client.next('conversation.item.input_audio_transcription.completed');
    assert.equal(entry()?.users, 1, 'the open session holds the model');

    clock.now += 3_600_000; // an hour idle by the clock: past the 60 s TTL
    await pool().sweep();
    assert.ok(entry()?.loaded, 'not unloaded while the session is open');
    const metrics = await (await fetch(url.replace('ws:', 'http:').replace(/\/v1\/realtime.*/, '/metrics'))).text();
    assert.match(metrics, /^moxing_models_loaded 1$/m, '/metrics sees the session\'s model');
    assert.match(metrics, /^moxing_model_load_seconds_count 1$/m, 'loaded once, by the pool');

    // The session goes on streaming on the same model after the sweep.
    for (const append of appends(clip, SAMPLE_RATE, 0.5)) client.send(append);
    client.send({ type: 'input_audio_buffer.commit' });
    await client.count('conversation.item.input_audio_transcription.completed', 2);

    await client.close();
    await waitFor(() => entry()?.users === 0);
    clock.now += 61_000;
    await pool().sweep();
    assert.equal(entry(), undefined, 'unloaded after the close, once the TTL passed');
  });

  test('an unknown or unserved model is an error event naming the field, and the session stays open', async () => {
    const client = await RealtimeClient.open(url);
    await client.next('session.created');
    client.send({ type: 'session.update', event_id: 'evt_1', session: { type: 'transcription', audio: { input: { transcription: { model: '/etc/passwd' } } } } });
    const error = await client.next('error');
    const body = error.error as { code: string; param: string; event_id: string; message: string };
    assert.equal(body.code, 'model_not_found');
    assert.equal(body.param, 'session.audio.input.transcription.model');
    assert.equal(body.event_id, 'evt_1');
    assert.ok(!body.message.includes('/etc/passwd'), 'the path is not echoed');
    client.send({ type: 'transcription_session.update', session: { input_audio_transcription: { model: 'whisper-large-v9' } } });
    const beta = await client.next('error', (e) => (e.error as { param: string }).param === 'session.input_audio_transcription.model');
    assert.equal((beta.error as { code: string }).code, 'model_not_found');
    client.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { model: 'whisper-1' } } } } });
    const updated = await client.next('session.updated');
    assert.equal((updated.session as { audio: { input: { transcription: { model: string } } } }).audio.input.transcription.model, 'whisper-1');
    await client.close();
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), 'condition never held');
}
