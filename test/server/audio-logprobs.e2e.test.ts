/**
 * `include[]=logprobs` on /v1/audio/transcriptions through the official `openai` client: the text tokens'
 * log-probs as the decoder computed them (the library's Segment.tokenLogprobs), in the json answer and in the
 * stream's events, and 400s naming `include` where OpenAI does not answer them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import OpenAI, { toFile } from 'openai';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/index.js';
import { transcribe, WhisperModel } from '../../src/asr/whisper/index.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
const CLIP = join(SHARED, 'audio/dev/single/de_004.wav');
/** Greedy, as the logprob checks need (whisper.cpp's temperature_inc 0 turns the fallback off). */
const GREEDY = { temperature: 0, temperature_inc: 0 } as Record<string, unknown>;

interface Logprob {
  token: string;
  logprob: number;
  bytes: number[];
}

describe('include[]=logprobs through the openai client', () => {
  let app: FastifyInstance;
  let client: OpenAI;
  let dataDir: string;
  const file = () => toFile(readFileSync(CLIP), 'clip.wav');

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'moxing-logprobs-'));
    app = await buildApp({ images: false, calc: false, models: [MODEL], jobs: { dataDir, jobConcurrency: 1 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    client = new OpenAI({ apiKey: 'unused', baseURL: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('json: the text tokens\' log-probs, the decoder\'s own, whose texts make up the transcript', async () => {
    const answer = (await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', include: ['logprobs'], ...GREEDY } as never)) as unknown as { text: string; logprobs: Logprob[] };
    assert.ok(answer.logprobs.length > 0);
    assert.equal(answer.logprobs.map((l) => l.token).join(''), answer.text);
    assert.ok(answer.logprobs.every((l) => l.logprob <= 0 && Number.isFinite(l.logprob)), 'greedy log-probs are <= 0');
    assert.deepEqual(Object.keys(answer.logprobs[0]).sort(), ['bytes', 'logprob', 'token']);

    const model = await WhisperModel.load(MODEL);
    try {
      const library = await transcribe(CLIP, { model, temperature: 0, tokenLogprobs: true });
      const { timestampBegin } = model.tokenizer;
      const textTokens = library.segments.flatMap((s) => s.tokens.flatMap((t, i) => (t < timestampBegin ? [{ id: t, logprob: s.tokenLogprobs![i] }] : [])));
      assert.deepEqual(answer.logprobs.map((l) => l.logprob), textTokens.map((t) => t.logprob));
      assert.deepEqual(answer.logprobs.map((l) => l.bytes), textTokens.map((t) => [...model.tokenizer.tokenBytes(t.id)]));
    } finally {
      await model.close();
    }
  });

  test('stream: each delta carries its tokens\' log-probs, done carries all; the same as the json answer', async () => {
    const json = (await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', include: ['logprobs'], ...GREEDY } as never)) as unknown as { logprobs: Logprob[] };
    const stream = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', stream: true, include: ['logprobs'], ...GREEDY } as never);
    const events: { type: string; delta?: string; text?: string; logprobs?: Logprob[] }[] = [];
    for await (const event of stream as unknown as AsyncIterable<(typeof events)[number]>) events.push(event);
    const done = events.at(-1)!;
    assert.equal(done.type, 'transcript.text.done');
    assert.deepEqual(done.logprobs, json.logprobs);
    const deltas = events.filter((e) => e.type === 'transcript.text.delta');
    assert.ok(deltas.length > 0 && deltas.every((d) => Array.isArray(d.logprobs)));
    const streamed = deltas.flatMap((d) => d.logprobs!);
    assert.deepEqual(streamed.map((l) => [l.logprob, l.bytes]), json.logprobs.map((l) => [l.logprob, l.bytes]));
    // Each delta's tokens spell the delta (the done text is the deltas' joined and trimmed).
    for (const d of deltas) assert.equal(d.logprobs!.map((l) => l.token).join(''), d.delta);
  });

  test('without include, no logprobs anywhere', async () => {
    const answer = (await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', ...GREEDY } as never)) as unknown as Record<string, unknown>;
    assert.ok(!('logprobs' in answer));
  });

  test('400 naming include: other formats, translations, unknown values, jobs', async () => {
    for (const response_format of ['text', 'verbose_json', 'srt', 'vtt']) {
      const error = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', include: ['logprobs'], response_format } as never).catch((e: unknown) => e);
      assert.ok(error instanceof OpenAI.BadRequestError, response_format);
      assert.equal(error.param, 'include');
      assert.match(error.message, /response_format "json"/);
    }
    const streamedText = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', include: ['logprobs'], stream: true, response_format: 'text' } as never).catch((e: unknown) => e);
    assert.ok(streamedText instanceof OpenAI.BadRequestError);
    assert.equal(streamedText.param, 'include');
    const translation = await client.audio.translations.create({ file: await file(), model: 'whisper-1', include: ['logprobs'] } as never).catch((e: unknown) => e);
    assert.ok(translation instanceof OpenAI.BadRequestError);
    assert.equal(translation.param, 'include');
    assert.match(translation.message, /transcriptions only/);
    const unknown = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', include: ['everything'] } as never).catch((e: unknown) => e);
    assert.ok(unknown instanceof OpenAI.BadRequestError);
    assert.equal(unknown.param, 'include');

    const form = new FormData();
    form.append('file', new Blob([readFileSync(CLIP)]), 'clip.wav');
    form.append('include[]', 'logprobs');
    const job = await fetch(`${client.baseURL}/jobs`, { method: 'POST', body: form });
    assert.equal(job.status, 400);
    const body = (await job.json()) as { error: { param: string; message: string } };
    assert.equal(body.error.param, 'include');
    assert.match(body.error.message, /jobs do not answer/);
  });
});
