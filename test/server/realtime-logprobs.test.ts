/**
 * OpenAI Realtime's `include: ["item.input_audio_transcription.logprobs"]`: the transcription deltas and the
 * completed event carry the tokens' log-probs, those of the decode that committed the words (checked against
 * the library's live stream on the same audio).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/index.js';
import { openLiveStream } from '../../src/asr/live/index.js';
import { WhisperModel } from '../../src/asr/whisper/index.js';
import { SAMPLE_RATE, decodeAudio } from '../../src/audio/index.js';
import { RealtimeClient, appends, type ServerEvent } from './realtime-client.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
const MAX_TOKENS = 32;
const INCLUDE = 'item.input_audio_transcription.logprobs';

interface Logprob {
  token: string;
  logprob: number;
  bytes: number[];
}

describe('realtime transcription log-probs', () => {
  let app: FastifyInstance;
  let base: string;
  let clip: Float32Array;

  before(async () => {
    clip = await decodeAudio(join(SHARED, 'audio/dev/single/en_003.wav'));
    app = await buildApp({ images: false, calc: false, models: [MODEL], realtime: { maxTokens: MAX_TOKENS } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/realtime?intent=transcription`;
  });
  after(() => app.close());

  /** A manual-turn session on the clip: every event up to the item's completion. */
  async function session(url: string, include: string[] | undefined): Promise<{ client: RealtimeClient; completed: ServerEvent }> {
    const client = await RealtimeClient.open(url);
    client.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 16_000 }, transcription: { language: 'en' }, turn_detection: null } }, ...(include ? { include } : {}) } });
    const updated = await client.next('session.updated');
    assert.deepEqual((updated.session as { include: string[] }).include, include ?? []);
    for (const append of appends(clip, SAMPLE_RATE, 0.5)) client.send(append);
    client.send({ type: 'input_audio_buffer.commit' });
    const completed = await client.next('conversation.item.input_audio_transcription.completed');
    return { client, completed };
  }

  test('vad policy: the completed item\'s log-probs are the library\'s final decode\'s, and its deltas\' spell them', async () => {
    const { client, completed } = await session(`${base}&policy=vad`, [INCLUDE]);
    await client.close();
    const logprobs = completed.logprobs as Logprob[];
    assert.ok(logprobs.length > 0);
    assert.equal(logprobs.map((l) => l.token).join(''), completed.transcript);
    assert.ok(logprobs.every((l) => l.logprob <= 0), 'greedy log-probs are <= 0');
    const deltas = client.events.filter((e) => e.type === 'conversation.item.input_audio_transcription.delta');
    assert.deepEqual(deltas.flatMap((d) => d.logprobs as Logprob[]), logprobs);

    const model = await WhisperModel.load(MODEL);
    try {
      const stream = await openLiveStream({ model, policy: 'vad', turnDetection: null, language: 'en', maxTokens: MAX_TOKENS, tokenLogprobs: true });
      await stream.push(clip);
      const commit = (await stream.commit()).find((e) => e.type === 'committed' && e.final);
      assert.ok(commit && commit.type === 'committed');
      const words = commit.words ?? [];
      assert.deepEqual(logprobs.map((l) => l.logprob), words.flatMap((w) => w.logprobs ?? []));
      assert.deepEqual(logprobs.map((l) => l.bytes), words.flatMap((w) => (w.tokens ?? []).map((t) => [...model.tokenizer.tokenBytes(t)])));
    } finally {
      await model.close();
    }
  });

  test('local-agreement: each delta carries its words\' log-probs, spelling the delta; completed carries them all', async () => {
    const { client, completed } = await session(base, [INCLUDE]);
    await client.close();
    const deltas = client.events.filter((e) => e.type === 'conversation.item.input_audio_transcription.delta');
    assert.ok(deltas.length > 0);
    for (const d of deltas) assert.equal((d.logprobs as Logprob[]).map((l) => l.token).join(''), d.delta);
    assert.deepEqual(completed.logprobs, deltas.flatMap((d) => d.logprobs as Logprob[]));
  });

  test('without include, no log-probs; an unknown include is an error event naming it', async () => {
    const { client, completed } = await session(base, undefined);
    assert.ok(!('logprobs' in completed));
    assert.ok(client.events.every((e) => !('logprobs' in e)));
    client.send({ type: 'session.update', session: { type: 'transcription', include: ['item.input_audio_transcription.everything'] } });
    const error = await client.next('error');
    assert.equal((error.error as { code: string; param: string }).param, 'session.include.0');
    client.send({ type: 'transcription_session.update', session: { include: [INCLUDE] } });
    const beta = await client.next('transcription_session.updated');
    assert.deepEqual((beta.session as { include: string[] }).include, [INCLUDE]);
    await client.close();
  });
});
