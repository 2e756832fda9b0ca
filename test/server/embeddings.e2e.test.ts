import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import OpenAI from 'openai';
import { buildApp } from '../../src/server/app.js';
import { OnnxEmbeddingModel } from '../../src/embeddings/index.js';
import { ensureBertModel, TINY_BERT } from '../models/bert.js';
import { ensureLlmGguf } from '../models/gguf.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const API_KEY = 'embeddings-test-key';
const TEXTS = ['Hello world, the weather in Paris!', 'a cat', 'sun and rain'];

describe('POST /v1/embeddings with the official openai client', () => {
  let app: FastifyInstance;
  let client: OpenAI;
  let bert = '';
  let gguf = '';
  let chatOnly = '';
  let library: OnnxEmbeddingModel;

  before(async () => {
    const bertDir = await ensureBertModel(TINY_BERT);
    const ggufPath = ensureLlmGguf(TINY_LLM, 'F32');
    const llmDir = await ensureLlmModel(TINY_LLM);
    [bert, gguf, chatOnly] = [basename(bertDir), basename(ggufPath), basename(llmDir)];
    library = await OnnxEmbeddingModel.load(bertDir);
    app = await buildApp({ security: { apiKey: API_KEY }, models: [bertDir], chat: { models: [ggufPath, llmDir] } });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    client = new OpenAI({ baseURL: `${address}/v1`, apiKey: API_KEY, maxRetries: 0 });
  });
  after(async () => {
    await app?.close();
  });

  test('float vectors equal the library\'s, in input order, with usage in tokens', async () => {
    const answer = await client.embeddings.create({ model: bert, input: TEXTS, encoding_format: 'float' });
    const expected = await library.embed(TEXTS);
    assert.equal(answer.object, 'list');
    assert.equal(answer.model, bert);
    assert.deepEqual(answer.data.map((d) => d.index), [0, 1, 2]);
    for (const [i, item] of answer.data.entries()) {
      assert.equal(item.object, 'embedding');
      assert.deepEqual(item.embedding, Array.from(expected.embeddings[i]));
    }
    assert.deepEqual(answer.usage, { prompt_tokens: expected.promptTokens, total_tokens: expected.promptTokens });
  });

  test('the client\'s base64 path (its default) decodes to the same floats', async () => {
    const floats = await client.embeddings.create({ model: bert, input: TEXTS, encoding_format: 'float' });
    const viaDefault = await client.embeddings.create({ model: bert, input: TEXTS });
    const viaBase64 = await client.embeddings.create({ model: bert, input: TEXTS, encoding_format: 'base64' });
    assert.deepEqual(viaDefault.data.map((d) => d.embedding), floats.data.map((d) => d.embedding));
    // Asked for explicitly, the client hands the string back: decode it as OpenAI documents (little-endian float32).
    for (const [i, item] of viaBase64.data.entries()) {
      assert.equal(typeof item.embedding, 'string');
      const bytes = Buffer.from(item.embedding as unknown as string, 'base64');
      assert.deepEqual(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)), floats.data[i].embedding);
    }
  });

  test('one string, token ids and arrays of token ids are inputs too', async () => {
    const ids = TEXTS.map((t) => library.tokenize(t));
    const fromText = await client.embeddings.create({ model: bert, input: TEXTS[0], encoding_format: 'float' });
    const fromIds = await client.embeddings.create({ model: bert, input: ids[0], encoding_format: 'float' });
    const fromIdArrays = await client.embeddings.create({ model: bert, input: ids, encoding_format: 'float' });
    assert.equal(fromText.data.length, 1);
    assert.deepEqual(fromIds.data[0].embedding, fromText.data[0].embedding);
    assert.deepEqual(fromIdArrays.data[0].embedding, fromText.data[0].embedding);
    assert.equal(fromIdArrays.data.length, 3);
  });

  test('a GGUF chat model embeds through llama.cpp', async () => {
    const answer = await client.embeddings.create({ model: gguf, input: TEXTS, encoding_format: 'float' });
    assert.equal(answer.data.length, 3);
    for (const item of answer.data) {
      assert.equal(item.embedding.length, TINY_LLM.hidden);
      assert.ok(Math.abs(Math.hypot(...item.embedding) - 1) < 1e-5);
    }
    assert.ok(answer.usage.prompt_tokens >= 3);
  });

  test('dimensions: the model\'s own width is accepted, any other refused', async () => {
    const same = await client.embeddings.create({ model: bert, input: 'a cat', dimensions: TINY_BERT.hidden, encoding_format: 'float' });
    assert.equal(same.data[0].embedding.length, TINY_BERT.hidden);
    await assert.rejects(client.embeddings.create({ model: bert, input: 'a cat', dimensions: 8 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.equal(error.param, 'dimensions');
      assert.match(error.message, /32 dimensions/);
      return true;
    });
  });

  test('bad input answers OpenAI errors: unknown model 404, a chat-only ONNX model, malformed inputs, too long 400', async () => {
    const expectError = async (body: Record<string, unknown>, status: number, pattern: RegExp) => {
      await assert.rejects(client.embeddings.create({ model: bert, input: 'x', ...body } as never), (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, status);
        assert.match(error.message, pattern);
        assert.equal((error.error as { type?: unknown }).type, 'invalid_request_error');
        return true;
      });
    };
    await expectError({ model: 'no-such-model' }, 404, /not served here/);
    await expectError({ model: '/etc/passwd' }, 404, /not served here/);
    await expectError({ model: chatOnly }, 400, /cannot make text embeddings/);
    await expectError({ input: '' }, 400, /input/);
    await expectError({ input: [] }, 400, /input/);
    await expectError({ input: [1, 'a'] }, 400, /input/);
    await expectError({ input: [-1] }, 400, /input/);
    await expectError({ input: [[2, 999999, 3]] }, 400, /token id 999999/);
    await expectError({ input: Array.from({ length: 2049 }, () => 'a') }, 400, /input/);
    await expectError({ input: 'rain '.repeat(300) }, 400, /at most 128/);
    await expectError({ encoding_format: 'int8' }, 400, /encoding_format/);
    await expectError({ frobnicate: true }, 400, /frobnicate|Unrecognized/);
  });
});
