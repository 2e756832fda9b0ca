import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { Ajv } from 'ajv';
import { buildApp } from '../../src/server/app.js';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { principledChat, withPrinciples } from '../../src/chat/principles.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';
import { ensureVlmModel, TINY_LLAVA } from '../models/vlm.js';
import { pngDeclaring } from '../helpers/png.js';
import sharp from 'sharp';

const API_KEY = 'chat-test-key';

describe('POST /v1/chat/completions with the official openai client', () => {
  let app: FastifyInstance;
  let client: OpenAI;
  let model = '';
  let library: OnnxChatModel;
  const messages = [
    { role: 'system' as const, content: 'You are a helpful assistant.' },
    { role: 'user' as const, content: 'What is the weather in Paris?' },
  ];

  before(async () => {
    const dir = await ensureLlmModel(TINY_LLM);
    model = basename(dir);
    library = await OnnxChatModel.load(dir);
    app = await buildApp({ security: { apiKey: API_KEY }, chat: { models: [dir] } });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new OpenAI({ baseURL: `${address}/v1`, apiKey: API_KEY, maxRetries: 0 });
  });
  after(async () => {
    await app?.close();
  });

  test('a greedy answer equals the library, with usage and finish_reason', async () => {
    const answer = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 16 });
    const expected = await library.chat(messages, { temperature: 0, maxTokens: 16 });
    assert.equal(answer.object, 'chat.completion');
    assert.equal(answer.model, model);
    assert.equal(answer.choices.length, 1);
    assert.equal(answer.choices[0].message.role, 'assistant');
    assert.equal(answer.choices[0].message.content, expected.message.content);
    assert.equal(answer.choices[0].finish_reason, 'length');
    assert.equal(answer.usage?.prompt_tokens, library.promptIds(messages).length);
    assert.equal(answer.usage?.completion_tokens, 16);
    assert.equal(answer.usage?.total_tokens, answer.usage!.prompt_tokens + 16);
  });

  test('a stream adds up to the same answer and ends with usage when asked', async () => {
    const whole = await client.chat.completions.create({ model, messages, temperature: 0.8, seed: 4, max_tokens: 20, stop: ['\n\n'] });
    const stream = await client.chat.completions.create({ model, messages, temperature: 0.8, seed: 4, max_tokens: 20, stop: ['\n\n'], stream: true, stream_options: { include_usage: true } });
    let content = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        content += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
    }
    assert.ok(chunks > 3);
    assert.equal(content, whole.choices[0].message.content);
    assert.equal(finish, whole.choices[0].finish_reason);
    assert.deepEqual(usage, whole.usage);
  });

  test('response_format json_schema gives JSON that validates', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 8 }, temperature: { type: 'number' }, sunny: { type: 'boolean' } }, required: ['city', 'temperature', 'sunny'], additionalProperties: false };
    const validate = new Ajv().compile(schema);
    for (const seed of [1, 2, 3]) {
      const answer = await client.chat.completions.create({ model, messages, temperature: 1, seed, max_tokens: 200, response_format: { type: 'json_schema', json_schema: { name: 'weather', schema, strict: true } } });
      const value = JSON.parse(answer.choices[0].message.content ?? '');
      assert.ok(validate(value), answer.choices[0].message.content ?? '');
      assert.equal(answer.choices[0].finish_reason, 'stop');
    }
  });

  test('tools with tool_choice required answer tool_calls, streamed and not', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 8 } }, required: ['city'] } } }];
    const answer = await client.chat.completions.create({ model, messages, tools, tool_choice: 'required', temperature: 0.7, seed: 9, max_tokens: 100 });
    const choice = answer.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
    const stream = await client.chat.completions.create({ model, messages, tools, tool_choice: 'required', temperature: 0.7, seed: 9, max_tokens: 100, stream: true });
    const calls: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        for (const t of c.delta.tool_calls ?? []) calls.push(`${t.function?.name}:${t.function?.arguments}`);
        finish = c.finish_reason ?? finish;
      }
    }
    assert.deepEqual(calls, [`get_weather:${call.function.arguments}`]);
    assert.equal(finish, 'tool_calls');
    // The call goes back into the conversation as the template renders it.
    const followUp = await client.chat.completions.create({ model, messages: [...messages, choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' }], tools, temperature: 0, max_tokens: 4 });
    assert.equal(followUp.choices.length, 1);
  });

  test('logprobs come in OpenAI shape', async () => {
    const answer = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 3, logprobs: true, top_logprobs: 2 });
    const content = answer.choices[0].logprobs?.content ?? [];
    assert.equal(content.length, 3);
    for (const entry of content) {
      assert.equal(entry.top_logprobs.length, 2);
      assert.ok(entry.logprob <= 0);
      assert.deepEqual(entry.bytes, [...Buffer.from(entry.token)]);
    }
  });

  test('bad requests are OpenAI errors: unknown model, malformed messages, images to a text model, n > 1, overflow', async () => {
    const expectError = async (body: Record<string, unknown>, status: number, pattern: RegExp) => {
      await assert.rejects(client.chat.completions.create({ model, messages, ...body } as never), (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, status);
        assert.match(error.message, pattern);
        assert.equal(typeof (error.error as { type?: unknown }).type, 'string');
        return true;
      });
    };
    await expectError({ model: 'no-such-model' }, 404, /not served here/);
    await expectError({ messages: [{ role: 'wizard', content: 'x' }] }, 400, /messages/);
    await expectError({ messages: [] }, 400, /messages/);
    await expectError({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }] }, 400, /text only/);
    await expectError({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://example.com/a.png' } }] }] }, 400, /data: URLs/);
    await expectError({ n: 2 }, 400, /n/);
    await expectError({ temperature: 5 }, 400, /temperature/);
    await expectError({ messages: [{ role: 'user', content: 'weather '.repeat(2100) }] }, 400, /context/);
    await expectError({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: 'a+' } } } }, 400, /pattern/);
  });

  test('GET /v1/models lists the chat model by its folder name, not its path', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.ok(ids.includes(model), ids.join(', '));
    assert.ok(!ids.some((id) => id.includes('/')), ids.join(', '));
  });
});

describe('POST /v1/chat/completions on a server started with principles', () => {
  const principles = ['Be brief.', 'Stay polite.'];
  const messages = [{ role: 'user' as const, content: 'What do llamas eat?' }];
  let app: FastifyInstance;
  let client: OpenAI;
  let model = '';
  let library: OnnxChatModel;
  before(async () => {
    const dir = await ensureLlmModel(TINY_LLM);
    model = basename(dir);
    library = await OnnxChatModel.load(dir);
    app = await buildApp({ chat: { models: [dir], principles } });
    client = new OpenAI({ baseURL: `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1`, apiKey: 'none', maxRetries: 0 });
  });
  after(async () => {
    await app?.close();
  });

  test('the answer is the library\'s principled rewrite, streamed and not; usage counts the three passes', async () => {
    const expected = await principledChat(library, messages, principles, { temperature: 0, maxTokens: 8 });
    const answer = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 8 });
    assert.equal(answer.choices[0].message.content, expected.message.content);
    assert.deepEqual(answer.usage && [answer.usage.prompt_tokens, answer.usage.completion_tokens], [expected.passes.promptTokens, expected.passes.completionTokens]);
    assert.ok(expected.passes.completionTokens > expected.tokens.length, 'more than the rewrite\'s own tokens');
    const stream = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 8, stream: true, stream_options: { include_usage: true } });
    let content = '';
    let total = 0;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      total = chunk.usage?.total_tokens ?? total;
    }
    assert.equal(content, expected.message.content);
    assert.equal(total, expected.passes.promptTokens + expected.passes.completionTokens);
  });

  test('a request with tools gets the principles in its system prompt, and no rewrite', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 8 } }, required: ['city'] } } }];
    const answer = await client.chat.completions.create({ model, messages, tools, tool_choice: 'required', temperature: 0, max_tokens: 60 });
    const expected = await library.chat(withPrinciples(messages, principles), { tools: tools as never, toolChoice: 'required', temperature: 0, maxTokens: 60 });
    assert.equal(answer.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(answer.choices[0].message.tool_calls?.map((c) => c.type === 'function' && c.function.arguments), expected.message.tool_calls?.map((c) => c.function.arguments));
    assert.equal(answer.usage?.prompt_tokens, expected.promptTokens);
  });
});

describe('POST /v1/chat/completions with image_url parts (a vision-language model)', () => {
  let app: FastifyInstance;
  let client: OpenAI;
  let model = '';
  let library: OnnxChatModel;
  let picture = '';
  let dir = '';

  before(async () => {
    dir = await ensureVlmModel(TINY_LLAVA);
    model = basename(dir);
    library = await OnnxChatModel.load(dir);
    const pixels = Buffer.alloc(40 * 36 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31 + (i % 5) * 17) % 256;
    picture = `data:image/png;base64,${(await sharp(pixels, { raw: { width: 40, height: 36, channels: 3 } }).png().toBuffer()).toString('base64')}`;
    app = await buildApp({ security: { apiKey: API_KEY, maxImagePixels: 1_000_000 }, chat: { models: [dir] } });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new OpenAI({ baseURL: `${address}/v1`, apiKey: API_KEY, maxRetries: 0 });
  });
  after(async () => {
    await app?.close();
  });

  test('a greedy answer about a data-URL image equals the library\'s, streamed and not; usage counts the image tokens', async () => {
    const messages = [{ role: 'user' as const, content: [{ type: 'image_url' as const, image_url: { url: picture } }, { type: 'text' as const, text: 'What is this?' }] }];
    const expected = await library.chat(messages, { temperature: 0, maxTokens: 10 });
    const answer = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 10 });
    assert.equal(answer.choices[0].message.content, expected.message.content);
    assert.equal(answer.usage?.prompt_tokens, (await library.prompt(messages)).ids.length);
    const stream = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 10, stream: true });
    let content = '';
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
    assert.equal(content, expected.message.content);
  });

  test('bad images are OpenAI errors: not an image, a pixel bomb, a remote URL, too many', async () => {
    const expectError = async (url: string, status: number, pattern: RegExp, count = 1) => {
      const content = [...new Array(count).fill({ type: 'image_url', image_url: { url } }), { type: 'text', text: 'hi' }];
      await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content }] } as never), (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, status);
        assert.match(error.message, pattern);
        assert.equal((error.error as { type?: unknown }).type, 'invalid_request_error');
        return true;
      });
    };
    await expectError(`data:image/png;base64,${Buffer.from('no image here').toString('base64')}`, 400, /not a readable image/);
    await expectError(`data:image/png;base64,${pngDeclaring(4000, 4000).toString('base64')}`, 413, /4000x4000 pixels/);
    await expectError('https://example.com/cat.png', 400, /data: URLs.*--allow-remote-images/);
    await expectError(picture, 400, /at most 8/, 9);
  });

  test('with remote images allowed, an http image URL answers as the same image sent as a data URL; a refused host is a 403', async () => {
    const png = Buffer.from(picture.slice('data:image/png;base64,'.length), 'base64');
    const images: Server = createServer((req, res) => void (req.url === '/picture.png' ? res.writeHead(200, { 'content-type': 'image/png' }).end(png) : res.writeHead(404).end()));
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    const remote = await buildApp({ security: { apiKey: API_KEY, maxImagePixels: 1_000_000 }, chat: { models: [dir], remoteImages: { allowPrivate: true } } });
    const publicOnly = await buildApp({ security: { apiKey: API_KEY }, chat: { models: [dir], remoteImages: {} } });
    try {
      const ask = async (app: FastifyInstance, url: string) => {
        const address = await app.listen({ host: '127.0.0.1', port: 0 });
        const content = [{ type: 'image_url' as const, image_url: { url } }, { type: 'text' as const, text: 'What is this?' }];
        return new OpenAI({ baseURL: `${address}/v1`, apiKey: API_KEY, maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: 'user', content }], temperature: 0, max_tokens: 10 });
      };
      const url = `http://127.0.0.1:${(images.address() as AddressInfo).port}/picture.png`;
      const expected = await library.chat([{ role: 'user', content: [{ type: 'image_url', image_url: { url: picture } }, { type: 'text', text: 'What is this?' }] }], { temperature: 0, maxTokens: 10 });
      assert.equal((await ask(remote, url)).choices[0].message.content, expected.message.content);
      await assert.rejects(ask(publicOnly, url), (error: unknown) => error instanceof OpenAI.APIError && error.status === 403 && /non-public address/.test(error.message));
    } finally {
      await Promise.all([remote.close(), publicOnly.close()]);
      images.close();
    }
  });
});
