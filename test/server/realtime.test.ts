/**
 * /v1/realtime?intent=transcription with a real WebSocket client (ws), speaking OpenAI's Realtime
 * transcription protocol: the transcripts against transcribeLive on the same audio, the event order, both
 * session.update shapes, manual commits, and the upgrade's rules (key as header or subprotocol, Origin, Host,
 * session cap).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/index.js';
import { transcribeLive, type LiveEvent, type LiveOptions } from '../../src/asr/live/index.js';
import { WhisperModel } from '../../src/asr/whisper/index.js';
import { SAMPLE_RATE, decodeAudio, resample } from '../../src/audio/index.js';
import { RealtimeClient, appends, type ServerEvent } from './realtime-client.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('server/realtime', () => {
  const SHARED = resolve(process.cwd(), '../shared');
  const MODEL = join(SHARED, 'models/whisper-tiny-random');
  const KEY = 'live-key-5e1';
  const MAX_TOKENS = 32;

  let speech: Float32Array;
  before(async () => {
    const clip = (name: string) => decodeAudio(join(SHARED, 'audio/dev/single', name));
    const silence = (s: number) => new Float32Array(Math.round(s * SAMPLE_RATE));
    const parts = [silence(0.6), await clip('en_001.wav'), silence(1.5), await clip('en_002.wav'), silence(1)];
    speech = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      speech.set(p, at);
      at += p.length;
    }
  });

  async function library(options: LiveOptions): Promise<LiveEvent[]> {
    const model = await WhisperModel.load(MODEL);
    const events: LiveEvent[] = [];
    const pieces = function* () {
      for (let s = 0; s < speech.length; s += 3200) yield speech.subarray(s, s + 3200);
    };
    for await (const e of transcribeLive(pieces(), { model, language: 'en', maxTokens: MAX_TOKENS, ...options })) events.push(e);
    return events;
  }

  const finals = (events: readonly LiveEvent[]) => events.filter((e) => e.type === 'committed' && e.final).map((e) => (e as { text: string }).text);

  describe('the Realtime transcription socket', () => {
    let app: FastifyInstance;
    let url: string;
    const auth = { headers: { authorization: `Bearer ${KEY}` } };

    before(async () => {
      app = await buildApp({ images: false, calc: false, models: [MODEL], security: { apiKey: KEY }, realtime: { maxTokens: MAX_TOKENS, maxSessions: 3 } });
      await app.listen({ host: '127.0.0.1', port: 0 });
      url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/realtime?intent=transcription`;
    });
    after(() => app.close());

    test('server_vad at 16 kHz: OpenAI\'s event sequence, and each completed transcript is the library\'s commit of that utterance', async () => {
      const client = await RealtimeClient.open(`${url}&policy=vad`, auth);
      const created = await client.next('session.created');
      assert.equal((created.session as { type: string }).type, 'transcription');
      client.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 16000 }, transcription: { model: 'whisper-1', language: 'en' }, turn_detection: { type: 'server_vad' } } } } });
      const updated = await client.next('session.updated');
      assert.deepEqual((updated.session as { audio: unknown }).audio, {
        input: { format: { type: 'audio/pcm', rate: 16000 }, transcription: { model: 'whisper-1', language: 'en', prompt: '' }, turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 }, noise_reduction: null },
      });
      for (const event of appends(speech, 16000, 0.25)) client.send(event);
      const completed = await client.count('conversation.item.input_audio_transcription.completed', 2);
      const expected = finals(await library({ policy: 'vad' }));
      assert.deepEqual(completed.map((e) => e.transcript), expected);
      assert.ok(expected.every((t) => t.length > 0));

      const flow = client.events.filter((e) => e.type !== 'conversation.item.input_audio_transcription.partial' && !e.type.startsWith('session.'));
      const item = (e: ServerEvent) => e.item_id as string;
      const types = flow.map((e) => e.type);
      assert.deepEqual(types, [
        'input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed',
        'conversation.item.input_audio_transcription.delta', 'conversation.item.input_audio_transcription.completed',
        'input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed',
        'conversation.item.input_audio_transcription.delta', 'conversation.item.input_audio_transcription.completed',
      ]);
      assert.equal(new Set(flow.slice(0, 5).map(item)).size, 1, 'one item per utterance');
      assert.notEqual(item(flow[0]), item(flow[5]));
      assert.equal(flow[7].previous_item_id, item(flow[0]), 'the second item follows the first');
      assert.ok((flow[0].audio_start_ms as number) < (flow[1].audio_end_ms as number));
      assert.ok(client.events.every((e) => typeof e.event_id === 'string'));
      await client.close();
    });

    test('local-agreement at 24 kHz (OpenAI\'s format): deltas add up to each completed transcript', async () => {
      const client = await RealtimeClient.open(url, auth);
      client.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { language: 'en' } } } } });
      await client.next('session.updated');
      for (const event of appends(resample(speech, SAMPLE_RATE, 24000), 24000, 0.5)) client.send(event);
      const completed = await client.count('conversation.item.input_audio_transcription.completed', 2);
      for (const done of completed) {
        const deltas = client.events.filter((e) => e.type === 'conversation.item.input_audio_transcription.delta' && e.item_id === done.item_id);
        assert.equal(deltas.map((e) => e.delta).join(''), done.transcript);
      }
      assert.equal(client.events.filter((e) => e.type === 'input_audio_buffer.speech_started').length, 2);
      await client.close();
    });

    test('beta transcription_session.update with turn_detection null: nothing happens until the commit, which transcribes all of it', async () => {
      const client = await RealtimeClient.open(`${url}&policy=vad`, auth);
      client.send({ type: 'input_audio_buffer.commit', event_id: 'c0' });
      const empty = await client.next('error');
      assert.deepEqual([(empty.error as { code: string }).code, (empty.error as { event_id: string }).event_id], ['input_audio_buffer_commit_empty', 'c0']);
      client.send({ type: 'transcription_session.update', session: { input_audio_format: 'pcm16', input_audio_transcription: { model: 'whisper-tiny-random', language: 'en' }, turn_detection: null } });
      const updated = await client.next('transcription_session.updated');
      assert.equal((updated.session as { turn_detection: unknown }).turn_detection, null);
      // The beta format is 24 kHz pcm16.
      for (const event of appends(resample(speech, SAMPLE_RATE, 24000), 24000, 0.5)) client.send(event);
      client.send({ type: 'input_audio_buffer.commit' });
      const done = await client.next('conversation.item.input_audio_transcription.completed');
      assert.equal(client.events.filter((e) => e.type.startsWith('input_audio_buffer.speech')).length, 0);
      const committed = client.events.find((e) => e.type === 'input_audio_buffer.committed')!;
      assert.equal(committed.item_id, done.item_id);
      assert.ok((done.transcript as string).length > 0);
      client.send({ type: 'input_audio_buffer.clear' });
      await client.next('input_audio_buffer.cleared');
      await client.close();
    });

    test('the key as the openai-insecure-api-key subprotocol (browsers), never echoed; no key, a wrong key: 401', async () => {
      const browser = await RealtimeClient.open(url, { protocols: ['realtime', `openai-insecure-api-key.${KEY}`] });
      assert.equal(browser.ws.protocol, 'realtime');
      await browser.next('session.created');
      await browser.close();
      for (const options of [{}, { protocols: ['openai-insecure-api-key.wrong'] }, { headers: { authorization: 'Bearer wrong' } }]) {
        const refused = await RealtimeClient.open(url, options).catch((e: { status: number; body: string }) => e);
        assert.equal((refused as { status: number }).status, 401);
        assert.equal(JSON.parse((refused as { body: string }).body).error.code, 'UNAUTHORIZED');
      }
    });

    test('Origin, Host, intent and the session cap are checked before the upgrade', async () => {
      const status = (u: string, headers: Record<string, string>) => RealtimeClient.open(u, { headers: { ...auth.headers, ...headers } }).then(async (c) => (await c.close(), 101), (e: { status: number }) => e.status);
      assert.equal(await status(url, { origin: 'https://evil.example' }), 403);
      assert.equal(await status(url, { origin: `http://${new URL(url).host}` }), 101, 'a page of this server may connect');
      assert.equal(await status(url, { host: 'rebound.example' }), 403);
      assert.equal(await status(url.replace('intent=transcription', 'intent=conversation'), {}), 400);
      assert.equal(await status(`${url}&policy=fast`, {}), 400);
      // Sessions of the tests before may still be closing on the server's side: open until refused.
      const open: RealtimeClient[] = [];
      let refused: { status: number; body: string } | undefined;
      while (!refused && open.length <= 3) await RealtimeClient.open(url, auth).then((c) => open.push(c), (e: { status: number; body: string }) => (refused = e));
      assert.equal(refused?.status, 429);
      assert.ok(open.length >= 1 && open.length <= 3, `${open.length} sessions opened under a cap of 3`);
      assert.equal(JSON.parse(refused!.body).error.code, 'BUSY');
      await Promise.all(open.map((c) => c.close()));
      const http = await fetch(url.replace('ws:', 'http:'), auth);
      assert.equal(http.status, 426);
    });
  });
});
