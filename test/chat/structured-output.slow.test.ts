/**
 * Constrained JSON output on the tiny random LLM: hundreds of seeded sampled generations, each of which must
 * parse and validate (ajv, fastify's JSON-schema validator, is the independent check). Slow tier by its size.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const USER = [{ role: 'user' as const, content: 'Tell me a story about the weather.' }];

const SCHEMAS: Record<string, object> = {
  person: {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 0 }, admin: { type: 'boolean' }, role: { enum: ['user', 'owner', 42, null] } },
    required: ['name', 'age', 'admin', 'role'],
    additionalProperties: false,
  },
  numbers: { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 4 },
  nested: {
    type: 'object',
    properties: { title: { type: 'string', minLength: 2, maxLength: 8 }, tags: { type: 'array', items: { type: 'object', properties: { k: { type: 'string', maxLength: 5 }, v: { type: ['number', 'null'] } }, required: ['k', 'v'] }, maxItems: 3 } },
    required: ['title', 'tags'],
  },
  union: { anyOf: [{ type: 'string', maxLength: 10 }, { type: 'integer' }, { const: true }] },
  refs: {
    $defs: { point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'], additionalProperties: false } },
    type: 'object',
    properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' }, label: { type: 'string', maxLength: 6 } },
    required: ['from', 'to', 'label'],
  },
};

describe('constrained JSON output', () => {
  let model: OnnxChatModel;
  before(async () => {
    model = await OnnxChatModel.load(await ensureLlmModel(TINY_LLM));
  });

  test('200 seeded random generations under 5 schemas all parse and validate', async () => {
    const ajv = new Ajv({ strict: false });
    for (const [name, schema] of Object.entries(SCHEMAS)) {
      const validate = ajv.compile(schema);
      for (let seed = 0; seed < 40; seed++) {
        const result = await model.chat(USER, { temperature: 1.3, seed, maxTokens: 400, responseFormat: { type: 'json_schema', json_schema: { name, schema } } });
        assert.equal(result.finishReason, 'stop', `${name} #${seed} ended by ${result.finishReason}`);
        const value = JSON.parse(result.message.content ?? '');
        assert.ok(validate(value), `${name} #${seed}: ${result.message.content} ${ajv.errorsText(validate.errors)}`);
      }
    }
  });

  test('json_object gives an object that parses, whatever the weights', async () => {
    for (let seed = 0; seed < 20; seed++) {
      const result = await model.chat(USER, { temperature: 1.5, seed, maxTokens: 600, responseFormat: { type: 'json_object' }, jsonLimits: { maxStringLength: 8, maxItems: 3, maxProperties: 3, maxDepth: 3 } });
      assert.equal(result.finishReason, 'stop');
      const value = JSON.parse(result.message.content ?? '');
      assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), result.message.content ?? '');
    }
  });

  test('greedy without a constraint is not JSON (the constraint does the work)', async () => {
    const result = await model.chat(USER, { temperature: 0, maxTokens: 20 });
    assert.throws(() => JSON.parse(result.message.content ?? ''));
  });

});
