/**
 * The OpenAI-compatible speech routes through the official `openai` npm client, against openai/whisper's own
 * output on a dev clip (the fidelity oracle): what the client sends, the answers it parses, its typed errors.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import OpenAI, { toFile } from 'openai';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/index.js';
import { transcribe } from '../../src/asr/whisper/index.js';
import { renderTranscript } from '../../src/formats/index.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');
const CLIP = join(SHARED, 'audio/dev/single/en_000.wav');
const ORACLE = JSON.parse(readFileSync(join(MODEL, 'oracle-dev/single/en_000.json'), 'utf8')) as { text: string; language: string; segments: { start: number; end: number; text: string; tokens: number[] }[] };
/** The oracle was decoded at T = 0 only: whisper.cpp's `temperature_inc: 0` turns the fallback off. */
const GREEDY = { temperature: 0, temperature_inc: 0 } as Record<string, unknown>;

describe('/v1/audio/* and /v1/models through the openai client', () => {
  let app: FastifyInstance;
  let client: OpenAI;
  const file = () => toFile(readFileSync(CLIP), 'en_000.wav');

  before(async () => {
    app = await buildApp({ images: false, calc: false, models: [MODEL], audio: { maxUploadBytes: 2 * 1024 * 1024 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    client = new OpenAI({ apiKey: 'unused', baseURL: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1`, maxRetries: 0 });
  });
  after(() => app.close());

  test('verbose_json is openai/whisper\'s transcript of the clip, with openai\'s segment keys', async () => {
    const result = (await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'verbose_json', ...GREEDY } as never)) as unknown as {
      task: string; language: string; duration: number; text: string; segments: Record<string, unknown>[]; usage: { type: string; seconds: number };
    };
    assert.equal(result.task, 'transcribe');
    assert.equal(result.text, ORACLE.text.trim());
    assert.equal(result.language, 'urdu'); // what the random model detects on this clip (oracle: "ur")
    assert.equal(ORACLE.language, 'ur');
    assert.deepEqual(result.segments.map((s) => [s.start, s.end, s.text, s.tokens]), ORACLE.segments.map((s) => [s.start, s.end, s.text, s.tokens]));
    assert.deepEqual(Object.keys(result.segments[0]).sort(), ['avg_logprob', 'compression_ratio', 'end', 'id', 'no_speech_prob', 'seek', 'start', 'temperature', 'text', 'tokens']);
    assert.deepEqual(result.usage, { type: 'duration', seconds: Math.ceil(result.duration) });
  });

  test('json, text, srt and vtt: the text, and the CLI writers\' bytes', async () => {
    const library = await transcribe(CLIP, { model: MODEL, temperature: 0 });
    const json = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', ...GREEDY } as never);
    assert.equal((json as { text: string }).text, library.text.trim());
    for (const [format, ext] of [['text', 'txt'], ['srt', 'srt'], ['vtt', 'vtt']] as const) {
      const body = await client.audio.transcriptions.create({ file: await file(), model: MODEL.split('/').pop()!, response_format: format, ...GREEDY } as never);
      assert.equal(body, renderTranscript(library, ext), format);
    }
  });

  test('stream: a delta per segment, then done with the whole text', async () => {
    const stream = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', stream: true, language: 'en', ...GREEDY } as never);
    const events: { type: string; delta?: string; text?: string }[] = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; delta?: string; text?: string }>) events.push(event);
    const done = events.at(-1)!;
    assert.equal(done.type, 'transcript.text.done');
    const deltas = events.filter((e) => e.type === 'transcript.text.delta');
    assert.ok(deltas.length > 0);
    assert.equal(deltas.map((e) => e.delta).join('').trim(), done.text);
  });

  test('translations answer with task "translate"', async () => {
    const result = (await client.audio.translations.create({ file: await file(), model: 'whisper-1', response_format: 'verbose_json', ...GREEDY } as never)) as unknown as { task: string };
    assert.equal(result.task, 'translate');
  });

  test('errors come in OpenAI\'s shape, as the client\'s typed errors, naming the param', async () => {
    const unknownModel = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-large-v9' }).catch((e: unknown) => e);
    assert.ok(unknownModel instanceof OpenAI.NotFoundError);
    assert.equal((unknownModel.error as { code: string }).code, 'model_unknown');
    const badFormat = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'docx' as never }).catch((e: unknown) => e);
    assert.ok(badFormat instanceof OpenAI.BadRequestError);
    assert.equal(badFormat.param, 'response_format');
    const unknownField = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', frobnicate: '1' } as never).catch((e: unknown) => e);
    assert.ok(unknownField instanceof OpenAI.BadRequestError);
    assert.equal(unknownField.param, 'frobnicate');
    const logprobs = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', include: ['logprobs'], response_format: 'srt' } as never).catch((e: unknown) => e);
    assert.ok(logprobs instanceof OpenAI.BadRequestError);
    assert.equal(logprobs.param, 'include');
    const notAudio = await client.audio.transcriptions.create({ file: await toFile(Buffer.from('this is not audio at all'), 'notes.wav'), model: 'whisper-1' }).catch((e: unknown) => e);
    assert.ok(notAudio instanceof OpenAI.APIError);
    assert.equal(notAudio.status, 415);
    const big = await client.audio.transcriptions.create({ file: await toFile(Buffer.alloc(3 * 1024 * 1024), 'big.wav'), model: 'whisper-1' }).catch((e: unknown) => e);
    assert.ok(big instanceof OpenAI.APIError);
    assert.equal(big.status, 413);
    assert.equal(big.param, 'file');
  });

  test('/v1/models lists whisper-1 and the served models by name, never by path', async () => {
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.deepEqual(ids, ['whisper-1', 'whisper-tiny-random']);
  });
});
