import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { buildApp } from '../../src/server/app.js';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { DEFAULT_COMPLETION_MAX_TOKENS } from '../../src/server/completions.js';
import { ensureLlmGguf } from '../models/gguf.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const API_KEY = 'completions-test-key';
const PROMPT = 'Once upon a time there was';

/** Text, finish reason and usage of a streamed completion, put together. */
async function collect(stream: AsyncIterable<OpenAI.Completion>) {
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let chunks = 0;
  let logprobs: OpenAI.CompletionChoice['logprobs'] = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.text;
      finish = choice.finish_reason ?? finish;
      logprobs = choice.logprobs ?? logprobs;
    }
  }
  return { text, finish, usage, chunks, logprobs };
}

describe('POST /v1/completions with the official openai client, on both engines', () => {
  let app: FastifyInstance;
  let client: OpenAI;
  let onnxName = '';
  let ggufName = '';
  let library: OnnxChatModel;

  before(async () => {
    const dir = await ensureLlmModel(TINY_LLM);
    const gguf = ensureLlmGguf(TINY_LLM, 'F32');
    onnxName = basename(dir);
    ggufName = basename(gguf);
    library = await OnnxChatModel.load(dir);
    app = await buildApp({ security: { apiKey: API_KEY }, audio: false, chat: { models: [dir, gguf] } });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new OpenAI({ baseURL: `${address}/v1`, apiKey: API_KEY, maxRetries: 0 });
  });
  after(async () => {
    await app?.close();
  });

  test('a greedy completion equals the library\'s raw generate, template-free, with usage', async () => {
    const answer = await client.completions.create({ model: onnxName, prompt: PROMPT, temperature: 0, max_tokens: 12 });
    const expected = await library.generate(PROMPT, { temperature: 0, maxTokens: 12 });
    assert.equal(answer.object, 'text_completion');
    assert.equal(answer.model, onnxName);
    assert.equal(answer.choices.length, 1);
    assert.equal(answer.choices[0].text, expected.text);
    assert.equal(answer.choices[0].finish_reason, 'length');
    assert.equal(answer.choices[0].logprobs, null);
    assert.deepEqual(answer.usage, { prompt_tokens: library.tokenizer.encode(PROMPT).length, completion_tokens: 12, total_tokens: library.tokenizer.encode(PROMPT).length + 12 });
    // A one-element array is the same prompt; max_tokens defaults to OpenAI's 16.
    const array = await client.completions.create({ model: onnxName, prompt: [PROMPT], temperature: 0 });
    assert.equal(array.usage?.completion_tokens, DEFAULT_COMPLETION_MAX_TOKENS);
    assert.ok(array.choices[0].text.startsWith(expected.text));
  });

  test('the GGUF engine completes the same prompt to the same text (F32 weights, greedy)', async () => {
    const onnx = await client.completions.create({ model: onnxName, prompt: PROMPT, temperature: 0, max_tokens: 10 });
    const gguf = await client.completions.create({ model: ggufName, prompt: PROMPT, temperature: 0, max_tokens: 10 });
    assert.equal(gguf.choices[0].text, onnx.choices[0].text);
    assert.equal(gguf.usage?.completion_tokens, 10);
  });

  for (const engine of ['onnx', 'llama.cpp'] as const) {
    test(`${engine}: a seeded stream adds up to the non-streamed answer, ends with usage and [DONE]`, async () => {
      const model = engine === 'onnx' ? onnxName : ggufName;
      const request = { model, prompt: PROMPT, temperature: 0.9, top_p: 0.95, seed: 7, max_tokens: 24, stop: ['\n\n'] };
      const whole = await client.completions.create(request);
      const streamed = await collect(await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
      assert.ok(streamed.chunks > 3, `${streamed.chunks} chunks`);
      assert.equal(streamed.text, whole.choices[0].text);
      assert.equal(streamed.finish, whole.choices[0].finish_reason);
      assert.deepEqual(streamed.usage, whole.usage);
    });
  }

  test('the raw SSE ends with data: [DONE]', async () => {
    const response = await fetch(`${client.baseURL}/completions`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: onnxName, prompt: PROMPT, max_tokens: 3, stream: true }) });
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await response.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'), text.slice(-100));
  });

  test('stop strings end the text; logprobs come as the legacy parallel arrays, on both engines', async () => {
    const free = await client.completions.create({ model: onnxName, prompt: PROMPT, temperature: 0, max_tokens: 20 });
    const stop = free.choices[0].text.slice(3, 6);
    const stopped = await client.completions.create({ model: onnxName, prompt: PROMPT, temperature: 0, max_tokens: 20, stop });
    assert.equal(stopped.choices[0].text, free.choices[0].text.slice(0, free.choices[0].text.indexOf(stop)));
    assert.equal(stopped.choices[0].finish_reason, 'stop');
    const withLogprobs = await client.completions.create({ model: onnxName, prompt: PROMPT, temperature: 0, max_tokens: 5, logprobs: 2 });
    const lp = withLogprobs.choices[0].logprobs!;
    assert.equal(lp.tokens?.length, 5);
    assert.equal(lp.tokens?.join(''), withLogprobs.choices[0].text);
    assert.equal(lp.text_offset?.[0], 0);
    for (let i = 0; i < 5; i++) {
      const top = lp.top_logprobs![i];
      assert.equal(Object.keys(top).length, 2);
      // Greedy picks the most likely token, so its logprob is the best of the alternatives.
      assert.equal(lp.token_logprobs![i], Math.max(...Object.values(top)));
      if (i > 0) assert.equal(lp.text_offset![i], lp.text_offset![i - 1] + lp.tokens![i - 1].length);
    }
    const streamed = await collect(await client.completions.create({ model: onnxName, prompt: PROMPT, temperature: 0, max_tokens: 5, logprobs: 2, stream: true }));
    assert.deepEqual(streamed.logprobs, lp);
    // The GGUF engine gives the same greedy tokens with llama.cpp's probabilities (F32 weights: equal up to rounding).
    const gguf = (await client.completions.create({ model: ggufName, prompt: PROMPT, temperature: 0, max_tokens: 5, logprobs: 2 })).choices[0].logprobs!;
    assert.deepEqual(gguf.tokens, lp.tokens);
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(gguf.token_logprobs![i] - lp.token_logprobs![i]) < 2e-3);
  });

  test('bad input answers 400 (404 for a model not served) in OpenAI\'s error shape', async () => {
    const expectError = async (body: Record<string, unknown>, status: number, pattern: RegExp, param?: string) => {
      await assert.rejects(client.completions.create({ model: onnxName, prompt: PROMPT, ...body } as never), (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, status);
        assert.match(error.message, pattern);
        assert.equal((error.error as { type?: unknown }).type, 'invalid_request_error');
        if (param !== undefined) assert.equal(error.param, param);
        return true;
      });
    };
    await expectError({ model: 'no-such-model' }, 404, /not served here/);
    await expectError({ model: '/etc/passwd' }, 404, /not served here/);
    await expectError({ prompt: ['a', 'b'] }, 400, /prompt/, 'prompt');
    await expectError({ prompt: [1, 2, 3] }, 400, /prompt/);
    await expectError({ prompt: '' }, 400, /empty/, 'prompt');
    await expectError({ n: 2 }, 400, /n/, 'n');
    await expectError({ echo: true }, 400, /echo/, 'echo');
    await expectError({ logprobs: 6 }, 400, /logprobs/, 'logprobs');
    await expectError({ temperature: -1 }, 400, /temperature/, 'temperature');
    await expectError({ max_tokens: 0 }, 400, /max_tokens/, 'max_tokens');
    await expectError({ suffix: 'x' }, 400, /suffix/, 'suffix');
    await expectError({ frobnicate: 1 }, 400, /frobnicate|Unrecognized/);
    await expectError({ prompt: 'weather '.repeat(2100) }, 400, /context/);
  });
});
