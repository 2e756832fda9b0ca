import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadChatModel } from '../../src/chat/load.js';
import type { ChatModel } from '../../src/chat/index.js';
import { ensureLlmGguf } from './gguf.js';
import { LLM_SPECIALS, ensureLlmModel, TINY_LLM, type LlmSpec } from './llm.js';

// TINY_LLM with a vocabulary padded to 1000 (the way the benchmark pads to Qwen2.5's 151,936), tied as Qwen's is.
const PADDED: LlmSpec = { ...TINY_LLM, name: 'llama-tiny-padded-vocab', tied: true, vocab: 1000 };

describe('an LLM with a padded vocabulary', () => {
  let dir = '';
  const models: ChatModel[] = [];
  before(async () => {
    dir = await ensureLlmModel(PADDED);
    models.push(await loadChatModel(dir), await loadChatModel(ensureLlmGguf(PADDED, 'Q4_0')));
  });
  after(async () => {
    for (const model of models) await model.dispose();
  });

  test('config, tokenizer and specials span the whole vocabulary', () => {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    assert.equal(config.vocab_size, 1000);
    assert.equal(Object.keys(tokenizer.model.vocab).length + tokenizer.added_tokens.length, 1000);
    assert.deepEqual(tokenizer.added_tokens.map((t: { id: number }) => t.id), LLM_SPECIALS.map((_, i) => 1000 - LLM_SPECIALS.length + i));
  });

  test('text encodes as without the padding (no merge reaches a padding piece)', async () => {
    const plain = await loadChatModel(await ensureLlmModel(TINY_LLM));
    const messages = [{ role: 'user' as const, content: 'What is the weather in Paris today? {"city": "Paris"}' }];
    const ids = (m: ChatModel) => (m as unknown as { promptIds(x: typeof messages): number[] }).promptIds(messages);
    const shift = 1000 - (256 + TINY_LLM.merges + LLM_SPECIALS.length); // the specials move up by the padding
    const learned = 256 + TINY_LLM.merges;
    assert.deepEqual(ids(models[0]), ids(plain).map((id) => (id >= learned ? id + shift : id)));
    await plain.dispose();
  });

  test('both engines can produce the last padding token: the logits are as wide as the vocabulary', async () => {
    const last = 1000 - LLM_SPECIALS.length - 1;
    for (const model of models) {
      const result = await model.generate('Hello', { maxTokens: 2, temperature: 0, logitBias: { [last]: 100 } });
      assert.deepEqual(result.tokens, [last, last], model.engine);
    }
  });
});
