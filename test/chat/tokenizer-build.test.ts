/**
 * buildTokenizer (src/chat/tokenizer.ts) fills a BPE model's vocabulary itself instead of letting
 * @huggingface/tokenizers build it from Object.entries: the result must be the library's own, field for field
 * (the token → id Map in the same order, the id → token array, the unknown token's id) and encode and decode alike;
 * and ChatTokenizer.tokenBytes, which then reads the filled array instead of the parsed vocabulary, the same bytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { buildTokenizer, ChatTokenizer } from '../../src/chat/tokenizer.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

type Json = Record<string, unknown>;

interface BpeFields {
  tokens_to_ids: Map<string, number>;
  vocab: (string | undefined)[];
  unk_token_id: number | undefined;
}

const fields = (t: Tokenizer) => (t as unknown as { model: BpeFields }).model;

function assertSameTokenizer(json: () => Json, config: Json, texts: readonly string[]): void {
  const reference = new Tokenizer(json(), config);
  const built = buildTokenizer(json(), config);
  assert.ok(built.pieces, 'a BPE vocabulary is filled by buildTokenizer');
  const [a, b] = [fields(reference), fields(built.tokenizer)];
  assert.deepEqual([...b.tokens_to_ids], [...a.tokens_to_ids]);
  assert.deepEqual(Array.from(b.vocab), Array.from(a.vocab));
  assert.equal(b.unk_token_id, a.unk_token_id);
  for (const text of texts) {
    const ids = reference.encode(text, { add_special_tokens: false }).ids;
    assert.deepEqual(built.tokenizer.encode(text, { add_special_tokens: false }).ids, ids, text);
    assert.equal(built.tokenizer.decode(ids), reference.decode(ids));
  }
}

describe('buildTokenizer', () => {
  test('the test LLM tokenizer: the same vocabulary fields, ids and text as the library builds', async () => {
    const dir = await ensureLlmModel(TINY_LLM);
    const json = () => JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Json;
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Json;
    assertSameTokenizer(json, config, ['The quick brown fox jumps over the lazy dog. 0123 456', '<|im_start|>user\nhi<|im_end|>', 'héllo wörld ✓ 日本']);
  });

  test('integer-like tokens, an unknown token and an added token that is also in the vocabulary under another id', () => {
    const json = (): Json => ({
      version: '1.0',
      added_tokens: [
        { id: 7, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
        { id: 8, content: 'ab', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
      ],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: { a: 0, b: 1, '10': 2, ab: 3, '<unk>': 4, '2': 5, '1': 6 }, merges: ['a b', '1 0'] },
    });
    assertSameTokenizer(json, {}, ['ab ba 10 2 1 x', 'abab <s> zz']);
    const reference = fields(new Tokenizer(json(), {}));
    assert.equal(reference.unk_token_id, 4, 'the case exercises the unknown token');
    assert.deepEqual([...reference.tokens_to_ids.keys()].slice(0, 3), ['1', '2', '10'], 'and integer-like keys, which come first');
  });

  test('another model type is built by the library as it is', () => {
    const json = (): Json => ({
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab: { hello: 0, world: 1, '[UNK]': 2 }, unk_token: '[UNK]' },
    });
    const parsed = json();
    const built = buildTokenizer(parsed, {});
    assert.equal(built.pieces, undefined);
    assert.deepEqual((parsed.model as Json).vocab, { hello: 0, world: 1, '[UNK]': 2 }, 'its vocabulary is left as parsed');
    const ids = built.tokenizer.encode('hello world', { add_special_tokens: false }).ids;
    assert.deepEqual(ids, [0, 1]);
    assert.deepEqual(ids, new Tokenizer(json(), {}).encode('hello world', { add_special_tokens: false }).ids);
  });

  test('ChatTokenizer.tokenBytes from the filled vocabulary equals the bytes read from the parsed one', async () => {
    const dir = await ensureLlmModel(TINY_LLM);
    const loaded = await ChatTokenizer.load(dir);
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Json;
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Json;
    // The same class over the library's own tokenizer and the whole parsed vocabulary (no filled pieces).
    const Construct = ChatTokenizer as unknown as new (tokenizer: Tokenizer, json: Json, config: Json, template: undefined, eos: number[]) => ChatTokenizer;
    const reference = new Construct(new Tokenizer(json, config), json, config, undefined, []);
    const expected = reference.tokenBytes();
    assert.ok(expected.filter((b) => b !== undefined).length > 200);
    assert.deepEqual(loaded.tokenBytes(), expected);
    assert.equal(loaded.size, reference.size);
  });
});
