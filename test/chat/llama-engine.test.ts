import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { Ajv } from 'ajv';
import { loadChatModel } from '../../src/chat/load.js';
import { LlamaChatModel } from '../../src/chat/llama-chat.js';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { ensureLlmGguf } from '../models/gguf.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const MESSAGES = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'What is the weather in Paris today?' },
];

describe('llama.cpp engine (node-llama-cpp) on a generated GGUF', () => {
  let gguf = '';
  let model: LlamaChatModel;
  let onnx: OnnxChatModel;
  before(async () => {
    gguf = ensureLlmGguf(TINY_LLM, 'F32');
    model = (await loadChatModel(gguf)) as LlamaChatModel;
    onnx = await OnnxChatModel.load(await ensureLlmModel(TINY_LLM));
  });
  after(async () => {
    await model?.dispose();
  });

  test('the engine follows the files: .gguf → llama.cpp; onnx refuses a GGUF', async () => {
    assert.equal(model.engine, 'llama.cpp');
    const viaFolder = await loadChatModel(dirname(gguf), { file: 'F32.gguf' });
    assert.equal(viaFolder.engine, 'llama.cpp');
    await viaFolder.dispose();
    await assert.rejects(loadChatModel(gguf, { engine: 'onnx' }), /GGUF file: use the llama.cpp engine/);
  });

  test('the GGUF template and tokenizer give the ONNX engine\'s prompt ids', () => {
    assert.deepEqual(model.promptIds(MESSAGES), onnx.promptIds(MESSAGES));
  });

  test('greedy on the F32 GGUF equals the ONNX engine on the same weights, token for token', async () => {
    for (const messages of [MESSAGES, [{ role: 'user' as const, content: 'Hello! How are you?' }]]) {
      const ours = await model.chat(messages, { temperature: 0, maxTokens: 20 });
      const reference = await onnx.chat(messages, { temperature: 0, maxTokens: 20 });
      assert.ok(ours.tokens.length > 5);
      assert.deepEqual(ours.tokens, reference.tokens);
      assert.equal(ours.message.content, reference.message.content);
    }
  });

  test("greedy equals node-llama-cpp's own LlamaCompletion", async () => {
    const { LlamaCompletion } = await import('node-llama-cpp');
    const other = (await loadChatModel(gguf)) as LlamaChatModel;
    const context = await other.model.createContext({ contextSize: 512, threads: 1 });
    try {
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      const theirs = await completion.generateCompletion('Once upon a time', { temperature: 0, maxTokens: 12 });
      const ours = await model.generate('Once upon a time', { temperature: 0, maxTokens: 12 });
      assert.equal(ours.message.content, theirs);
    } finally {
      await context.dispose();
      await other.dispose();
    }
  });

  test('sampling options map through: seed, logit bias, stop strings, penalties', async () => {
    const sampled = (seed: number) => model.chat(MESSAGES, { temperature: 1.2, topK: 50, topP: 0.95, minP: 0.01, seed, maxTokens: 16 });
    const a = await sampled(5);
    const b = await sampled(5);
    const c = await sampled(6);
    assert.deepEqual(a.tokens, b.tokens);
    assert.notDeepEqual(a.tokens, c.tokens);
    const forced = await model.chat(MESSAGES, { temperature: 0, maxTokens: 5, logitBias: { 65: 100 } });
    assert.equal(forced.message.content, 'AAAAA');
    const greedy = await model.chat(MESSAGES, { temperature: 0, maxTokens: 20 });
    const banned = await model.chat(MESSAGES, { temperature: 0, maxTokens: 20, logitBias: { [greedy.tokens[0]]: -100 } });
    assert.ok(!banned.tokens.includes(greedy.tokens[0]));
    const text = greedy.message.content ?? '';
    const stop = text.slice(6, 9);
    const stopped = await model.chat(MESSAGES, { temperature: 0, maxTokens: 20, stop: [stop] });
    assert.equal(stopped.message.content, text.slice(0, text.indexOf(stop)));
    assert.equal(stopped.finishReason, 'stop');
    const penalized = await model.chat(MESSAGES, { temperature: 0, maxTokens: 20, frequencyPenalty: 2, presencePenalty: 2 });
    assert.notDeepEqual(penalized.tokens, greedy.tokens, 'penalties reach the sampler');
  });

  test('json_schema output follows llama.cpp\'s grammar and validates; tool_choice required gives a call', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 8 }, days: { type: 'integer' } }, required: ['city', 'days'], additionalProperties: false };
    const validate = new Ajv().compile(schema);
    for (const seed of [1, 2, 3]) {
      const result = await model.chat(MESSAGES, { temperature: 1, seed, maxTokens: 120, responseFormat: { type: 'json_schema', json_schema: { name: 'x', schema } } });
      assert.ok(validate(JSON.parse(result.message.content ?? '')), result.message.content ?? '');
    }
    const tool = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 8 } }, required: ['city'] } } };
    const call = await model.chat(MESSAGES, { tools: [tool], toolChoice: 'required', temperature: 0.5, seed: 1, maxTokens: 120 });
    assert.equal(call.finishReason, 'tool_calls');
    assert.equal(call.message.tool_calls?.[0].function.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.message.tool_calls![0].function.arguments).city, 'string');
  });

  test('the next turn reuses the shared prefix and answers as a fresh model does', async () => {
    const first = await model.chat(MESSAGES, { temperature: 0, maxTokens: 6 });
    const next = [...MESSAGES, { role: 'assistant' as const, content: first.message.content }, { role: 'user' as const, content: 'And tomorrow?' }];
    const reused = await model.chat(next, { temperature: 0, maxTokens: 10 });
    assert.ok(reused.cachedTokens > 20, `cached ${reused.cachedTokens}`);
    const fresh = await onnx.chat(next, { temperature: 0, maxTokens: 10 });
    assert.deepEqual(reused.tokens, fresh.tokens);
  });

  test('a Q4_0 GGUF loads and generates', async () => {
    const q4 = await loadChatModel(ensureLlmGguf(TINY_LLM, 'Q4_0'));
    try {
      const result = await q4.chat(MESSAGES, { temperature: 0, maxTokens: 8 });
      assert.ok(result.tokens.length > 0);
      assert.equal(result.promptTokens, onnx.promptIds(MESSAGES).length);
    } finally {
      await q4.dispose();
    }
  });

  test('greedy logprobs (llama.cpp\'s token probabilities) equal the ONNX engine\'s log-softmax on the same weights', async () => {
    const ours = await model.chat(MESSAGES, { temperature: 0, maxTokens: 8, logprobs: true, topLogprobs: 3 });
    const reference = await onnx.chat(MESSAGES, { temperature: 0, maxTokens: 8, logprobs: true, topLogprobs: 3 });
    assert.equal(ours.logprobs?.length, 8);
    for (const [i, entry] of (ours.logprobs ?? []).entries()) {
      const expected = reference.logprobs![i];
      assert.equal(entry.token, expected.token);
      // F32 weights on two runtimes: the same distribution up to float rounding.
      assert.ok(Math.abs(entry.logprob - expected.logprob) < 2e-3, `position ${i}: ${entry.logprob} vs ${expected.logprob}`);
      assert.deepEqual(entry.top.map((t) => t.token), expected.top.map((t) => t.token));
      assert.equal(entry.top[0].logprob, entry.logprob);
    }
    await assert.rejects(model.chat(MESSAGES, { logprobs: true, topLogprobs: 21 }).result(), /topLogprobs must be a whole number from 0 to 20/);
  });

  test('images are refused with a clear error', async () => {
    await assert.rejects(model.chat([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] }]).result(), /text only/);
  });
});
