/**
 * Hostile traffic on the Realtime socket (/v1/realtime): generated bad messages (fixed seed) — broken JSON,
 * binary frames, bad base64, odd PCM, unknown events, wrong types, prototype keys, paths as model names — each
 * answered by an `error` event in OpenAI's shape that leaks nothing, the session still working afterwards;
 * plus the limits that close a connection (frame size, message rate, idle time) and upgrades without a key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/index.js';
import { seededRandom } from '../../src/asr/whisper/search.js';
import { SAMPLE_RATE, decodeAudio } from '../../src/audio/index.js';
import { RealtimeClient, appends, type ServerEvent } from '../server/realtime-client.js';

const SEED = 20261204;
const MESSAGES = 400;
const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');
const KEY = 'fuzz-live-key-93';
const auth = { headers: { authorization: `Bearer ${KEY}` } };
const LOGPROBS = 'item.input_audio_transcription.logprobs';

let app: FastifyInstance;
let url: string;
before(async () => {
  app = await buildApp({ images: false, calc: false, models: [MODEL], security: { apiKey: KEY }, realtime: { maxTokens: 16, maxMessageBytes: 64 * 1024, maxMessagesPerSecond: 1000, idleTimeoutMs: 5000 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/realtime?intent=transcription`;
});
after(() => app.close());

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** One hostile message: a string (text frame) or a Buffer (binary frame). */
function hostile(random: () => number): string | Buffer {
  const valid = { type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { language: 'en' } } } } };
  const generators: (() => string | Buffer)[] = [
    () => pick(random, ['', '{', '{"type":', 'null', '[]', '"input_audio_buffer.append"', '{"type":1}', '\uFEFF{}', "{'type':'x'}", '{"a":1,}', 'NaN']),
    () => Buffer.from([0, 1, 2, 255]),
    () => JSON.stringify({ type: 'input_audio_buffer.append', audio: pick(random, ['***', 'AAA', 'A', 'AA=A', '====', 'QUJD\nREVG', 42, null, ['AAAA']]) }),
    () => JSON.stringify({ type: pick(random, ['response.create', 'conversation.item.create', 'session.delete', '__proto__', 'constructor', 'input_audio_buffer', 'x'.repeat(5000)]) }),
    () => JSON.stringify({ ...valid, session: { ...valid.session, type: pick(random, ['realtime', 1, null]) } }),
    () => JSON.stringify({ ...valid, session: { type: 'transcription', audio: { input: { transcription: { model: pick(random, ['/etc/passwd', '../../models', 'no-such/model', `${MODEL}/..`, 'file:///etc/passwd']) } } } } }),
    () => JSON.stringify({ ...valid, session: { type: 'transcription', audio: { input: { turn_detection: { type: 'server_vad', threshold: pick(random, [2, -1, '0.5', null]), silence_duration_ms: 1e12 } } } } }),
    () => JSON.stringify({ ...valid, session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: pick(random, [8000, 44100, '24000']) } } } } }),
    () => {
      const include = pick(random, [['logprobs'], [LOGPROBS, LOGPROBS], LOGPROBS, [null], [42], ['item.input_audio_transcription.logprobs ']]);
      return JSON.stringify(random() < 0.5 ? { ...valid, session: { ...valid.session, include } } : { type: 'transcription_session.update', session: { include } });
    },
    () => `{"type":"session.update","__proto__":{"polluted":true},"session":{"type":"transcription"}}`,
    () => `{"type":"input_audio_buffer.commit","constructor":{"prototype":{"polluted":true}}}`,
    () => JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA', extra: 1 }),
    () => `{"type":"session.update","session":${'['.repeat(3000)}${']'.repeat(3000)}}`,
  ];
  return pick(random, generators)();
}

function judge(event: ServerEvent): string | undefined {
  const text = JSON.stringify(event);
  for (const secret of [SHARED, process.cwd(), '/etc/passwd', 'at ', KEY]) if (text.includes(secret)) return `leaks ${secret}: ${text.slice(0, 200)}`;
  if (event.type !== 'error') return undefined;
  const error = event.error as { type?: unknown; message?: unknown; code?: unknown };
  if (typeof error?.message !== 'string' || typeof error.type !== 'string' || typeof error.code !== 'string') return `not OpenAI's error shape: ${text.slice(0, 200)}`;
  return undefined;
}

test(`${MESSAGES} hostile messages: an error event each, nothing leaked, and the session still transcribes`, async () => {
  const random = seededRandom(SEED);
  const client = await RealtimeClient.open(url, auth);
  await client.next('session.created');
  const messages = Array.from({ length: MESSAGES }, () => hostile(random));
  for (const message of messages) client.ws.send(message);
  // Every hostile message gets exactly one error (a refused session.update keeps the session as it was).
  const errors = await client.count('error', MESSAGES);
  assert.equal(errors.length, MESSAGES);
  assert.equal(client.events.filter((e) => e.type === 'session.updated').length, 0, 'no hostile update was applied');
  const problems = client.events.map(judge).filter((p) => p !== undefined);
  assert.deepEqual(problems, []);
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  const codes = new Set(errors.map((e) => (e.error as { code: string }).code));
  for (const code of ['invalid_json', 'invalid_event', 'unknown_event', 'invalid_value', 'model_not_found']) assert.ok(codes.has(code), `${code} among ${[...codes]}`);

  // Still a working session: real audio in, a transcript (with its log-probs) out.
  client.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 16000 }, transcription: { language: 'en' }, turn_detection: null } }, include: [LOGPROBS] } });
  await client.next('session.updated');
  const clip = await decodeAudio(join(SHARED, 'audio/dev/single/en_001.wav'));
  for (const event of appends(clip, SAMPLE_RATE, 0.5)) client.send(event);
  client.send({ type: 'input_audio_buffer.commit' });
  const done = await client.next('conversation.item.input_audio_transcription.completed');
  assert.ok(typeof done.transcript === 'string');
  assert.ok(Array.isArray(done.logprobs));
  await client.close();
  const health = await fetch(url.replace('ws:', 'http:').replace(/\/v1\/realtime.*/, '/health'));
  assert.equal(health.status, 200);
});

test('a frame over the message limit closes the connection with 1009; the server stays up', async () => {
  const client = await RealtimeClient.open(url, auth);
  client.send({ type: 'input_audio_buffer.append', audio: 'A'.repeat(100 * 1024) });
  assert.equal((await client.closed).code, 1009);
  const next = await RealtimeClient.open(url, auth);
  await next.next('session.created');
  await next.close();
});

test('a client over the message rate is told so and closed (1008)', async () => {
  const client = await RealtimeClient.open(url, auth);
  for (let i = 0; i < 1500; i++) client.send({ type: 'input_audio_buffer.clear' });
  const { code } = await client.closed;
  assert.equal(code, 1008);
  assert.ok(client.events.some((e) => e.type === 'error' && (e.error as { code: string }).code === 'rate_limit_exceeded'));
});

test('an idle session is closed with an idle_timeout error', async () => {
  const client = await RealtimeClient.open(url, auth);
  const { code } = await client.closed;
  assert.equal(code, 1000);
  assert.ok(client.events.some((e) => e.type === 'error' && (e.error as { code: string }).code === 'idle_timeout'));
});

test('upgrades without the key, with a bad one, or to another path are refused with JSON errors', async () => {
  for (const [target, options, status] of [
    [url, {}, 401],
    [url, { protocols: ['openai-insecure-api-key.'] }, 401],
    [url, { headers: { authorization: 'Basic Zm9vOmJhcg==' } }, 401],
    [url.replace('/v1/realtime', '/v1/other'), auth, 404],
    [url.replace('/v1/realtime', '/v1/realtime/../../etc'), auth, 404],
  ] as const) {
    const refused = (await RealtimeClient.open(target, options as never).catch((e: unknown) => e)) as { status: number; body: string };
    assert.equal(refused.status, status, target);
    const body = JSON.parse(refused.body) as { error: { code: string; message: string } };
    assert.equal(typeof body.error.message, 'string');
    assert.ok(!refused.body.includes(KEY) && !refused.body.includes(SHARED));
  }
});
