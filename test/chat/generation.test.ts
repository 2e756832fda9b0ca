import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
// ajv is fastify's JSON-schema validator (installed with it): the independent check of constrained output.
import { Ajv } from 'ajv';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { Sampler, argmax } from '../../src/chat/sampling.js';
import { JsonGrammar } from '../../src/chat/json-grammar.js';
import { parseToolCalls, type ToolDefinition } from '../../src/chat/tools.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const USER = [{ role: 'user' as const, content: 'Tell me a story about the weather.' }];

describe('sampling', () => {
  let model: OnnxChatModel;
  before(async () => {
    model = await OnnxChatModel.load(await ensureLlmModel(TINY_LLM));
  });

  test('a seed makes sampling reproducible; other seeds give other text', async () => {
    const options = { temperature: 1.2, topP: 0.95, maxTokens: 24 };
    const a = await model.chat(USER, { ...options, seed: 7 });
    const b = await model.chat(USER, { ...options, seed: 7 });
    const c = await model.chat(USER, { ...options, seed: 8 });
    assert.deepEqual(a.tokens, b.tokens);
    assert.notDeepEqual(a.tokens, c.tokens);
  });

  test('top-k 1, top-p ≈ 0 and min-p 1 are greedy at any temperature', async () => {
    const greedy = await model.chat(USER, { temperature: 0, maxTokens: 16 });
    for (const options of [{ topK: 1 }, { topP: 1e-9 }, { minP: 1 }]) {
      const sampled = await model.chat(USER, { ...options, temperature: 1.5, seed: 3, maxTokens: 16 });
      assert.deepEqual(sampled.tokens, greedy.tokens, JSON.stringify(options));
    }
  });

  test('draws follow softmax(logits / temperature)', () => {
    const logits = Float32Array.of(0, 1, 2, -30);
    for (const temperature of [1, 0.5]) {
      const sampler = new Sampler({ temperature, seed: 1 });
      const counts = [0, 0, 0, 0];
      const draws = 20000;
      for (let i = 0; i < draws; i++) counts[sampler.choose(logits)]++;
      const weights = Array.from(logits, (l) => Math.exp(l / temperature));
      const total = weights.reduce((a, b) => a + b);
      weights.forEach((w, i) => assert.ok(Math.abs(counts[i] / draws - w / total) < 0.015, `p(${i}) at T=${temperature}: ${counts[i] / draws} vs ${w / total}`));
    }
  });

  test('logit bias bans and forces tokens', async () => {
    const greedy = await model.chat(USER, { temperature: 0, maxTokens: 12 });
    const banned = greedy.tokens[0];
    const without = await model.chat(USER, { temperature: 0, maxTokens: 12, logitBias: { [banned]: -100 } });
    assert.ok(!without.tokens.includes(banned));
    const forced = await model.chat(USER, { temperature: 0.8, seed: 1, maxTokens: 5, logitBias: { 65: 100 } });
    assert.deepEqual(forced.tokens, [65, 65, 65, 65, 65]);
    assert.equal(forced.message.content, 'AAAAA');
    assert.equal(forced.finishReason, 'length');
  });

  test('repetition, presence and frequency penalties change the logits as transformers and OpenAI define them', () => {
    const logits = Float32Array.of(2, -2, 1, 0.5);
    new Sampler({ repetitionPenalty: 2 }).process(logits, [0, 1, 1], []);
    assert.deepEqual(Array.from(logits), [1, -4, 1, 0.5]);
    const other = Float32Array.of(2, -2, 1, 0.5);
    new Sampler({ presencePenalty: 0.5, frequencyPenalty: 0.25 }).process(other, [0, 1, 2, 2], [2, 2, 3]);
    assert.deepEqual(Array.from(other), [2, -2, 1 - 0.5 - 0.5, 0.5 - 0.5 - 0.25]);
    assert.throws(() => new Sampler({ temperature: -1 }), /temperature must be/);
    assert.throws(() => new Sampler({ topP: 2 }), /topP must be/);
  });

  test('logprobs are log-softmax of the model logits, with the top alternatives', async () => {
    const result = await model.chat(USER, { temperature: 0, maxTokens: 4, logprobs: true, topLogprobs: 3 });
    assert.equal(result.logprobs?.length, 4);
    for (const entry of result.logprobs ?? []) {
      assert.equal(entry.top.length, 3);
      assert.equal(entry.top[0].token, entry.token, 'greedy picks the most likely token');
      assert.ok(entry.logprob <= 0 && entry.top[0].logprob >= entry.top[1].logprob);
    }
  });

  test('a stop string that spans tokens ends the text before it and never reaches the stream', async () => {
    const full = await model.chat(USER, { temperature: 0, maxTokens: 30 });
    const text = full.message.content ?? '';
    // A stop string straddling the boundary between the 3rd and 4th tokens.
    const boundary = model.tokenizer.decode(full.tokens.slice(0, 3)).length;
    const stop = text.slice(boundary - 2, boundary + 2);
    assert.equal(stop.length, 4);
    const cut = text.indexOf(stop);
    const run = model.chat(USER, { temperature: 0, maxTokens: 30, stop: [stop, 'never-produced'] });
    let streamed = '';
    for await (const delta of run.stream()) streamed += delta.content ?? '';
    const result = await run;
    assert.equal(result.message.content, text.slice(0, cut));
    assert.equal(result.finishReason, 'stop');
    assert.equal(streamed, result.message.content);
  });

  test('streamed deltas add up to the text and the tokens', async () => {
    const run = model.chat(USER, { temperature: 0.9, seed: 5, maxTokens: 20 });
    let text = '';
    const tokens: number[] = [];
    for await (const delta of run.stream()) {
      text += delta.content ?? '';
      tokens.push(...delta.tokens);
    }
    const result = await run;
    assert.equal(text, result.message.content);
    assert.deepEqual(tokens, result.tokens);
  });

  test('context overflow is a clear error', async () => {
    const long = 'the weather '.repeat(1200);
    await assert.rejects(model.chat([{ role: 'user', content: long }], { maxTokens: 4 }).result(), /context is 2048/);
  });
});

test('schemas the automaton cannot guarantee are refused up front', () => {
  assert.throws(() => JsonGrammar.fromSchema({ type: 'string', pattern: '^a' }), /pattern is not supported/);
  assert.throws(() => JsonGrammar.fromSchema({ type: 'integer', maximum: 3 }), /maximum is not supported/);
  assert.throws(() => JsonGrammar.fromSchema({ anyOf: [{ type: 'string' }, { enum: ['x'] }] }), /start with the same character/);
  assert.throws(() => JsonGrammar.fromSchema({ $ref: '#/$defs/missing' }), /does not name/);
});

const WEATHER: ToolDefinition = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, unit: { enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] } },
};
const TIME: ToolDefinition = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', maxLength: 6 } } } } };

describe('tools', () => {
  let model: OnnxChatModel;
  before(async () => {
    model = await OnnxChatModel.load(await ensureLlmModel(TINY_LLM));
  });

  test("the template renders tools and tool calls as Qwen2.5's template does", () => {
    const text = model.tokenizer.render(
      [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } } }] },
        { role: 'tool', content: '{"temp": 21}' },
      ],
      { tools: [WEATHER] },
    );
    const expected =
      '<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
      JSON.stringify(WEATHER, null, 0).replaceAll('":', '": ').replaceAll(',"', ', "') +
      '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
      '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n' +
      '<|im_start|>assistant\n';
    assert.equal(text, expected);
  });

  test('tool calls round-trip through the template and the parser', () => {
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } };
    const rendered = model.tokenizer.render([{ role: 'user', content: 'x' }, { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: call.function.name, arguments: JSON.parse(call.function.arguments) } }] }], { tools: [WEATHER], addGenerationPrompt: false });
    const reply = rendered.slice(rendered.lastIndexOf('<|im_start|>assistant\n') + '<|im_start|>assistant\n'.length, rendered.lastIndexOf('<|im_end|>'));
    const parsed = parseToolCalls(reply, [WEATHER]);
    assert.equal(parsed.content, null);
    assert.equal(parsed.calls.length, 1);
    assert.equal(parsed.calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(parsed.calls[0].function.arguments), { city: 'Paris', unit: 'celsius' });
    assert.deepEqual(parseToolCalls('{"name": "get_time", "parameters": {"zone": "UTC"}}', [TIME]).calls.map((c) => c.function), [{ name: 'get_time', arguments: '{"zone":"UTC"}' }]);
    assert.deepEqual(parseToolCalls('no call <tool_call>{"name": "unknown"}</tool_call>', [TIME]).calls, []);
  });

  test('tool_choice required and named force a valid call on a random model; the stream carries it as tool_calls', async () => {
    const ajv = new Ajv({ strict: false });
    const validate = ajv.compile(WEATHER.function.parameters as object);
    for (let seed = 0; seed < 8; seed++) {
      const run = model.chat([{ role: 'user', content: 'Weather in Paris?' }], { tools: [WEATHER, TIME], toolChoice: seed % 2 ? 'required' : { type: 'function', function: { name: 'get_weather' } }, temperature: 1, seed, maxTokens: 300, jsonLimits: { maxStringLength: 6, maxProperties: 2, maxItems: 2, maxDepth: 2 } });
      let content = '';
      let streamedCalls = 0;
      for await (const delta of run.stream()) {
        content += delta.content ?? '';
        streamedCalls += delta.toolCalls?.length ?? 0;
      }
      const result = await run;
      assert.equal(result.finishReason, 'tool_calls');
      assert.equal(content, '', 'no call text leaks into content');
      assert.equal(streamedCalls, 1);
      const [call] = result.message.tool_calls ?? [];
      assert.ok(['get_weather', 'get_time'].includes(call.function.name));
      const args = JSON.parse(call.function.arguments);
      if (seed % 2 === 0) {
        assert.equal(call.function.name, 'get_weather');
        assert.ok(validate(args), call.function.arguments);
      }
    }
  });

  test('tool_choice naming an unknown tool is refused', async () => {
    await assert.rejects(model.chat(USER, { tools: [WEATHER], toolChoice: { type: 'function', function: { name: 'nope' } } }).result(), /not among the tools/);
  });
});

test('argmax picks the first of equal maxima', () => {
  assert.equal(argmax(Float32Array.of(1, 3, 3, 2)), 1);
});
