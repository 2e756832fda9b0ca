import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { argmax } from '../../src/chat/sampling.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const MESSAGES = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: 'What is the weather in Paris today?' },
];

/** Greedy decoding that recomputes the whole sequence at every step (no KV cache). */
async function uncachedGreedy(model: OnnxChatModel, prompt: readonly number[], steps: number): Promise<number[]> {
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { logits } = await model.decoder.forward([ids], [ids.map(() => 1)], [ids.map((_, p) => p)], model.decoder.emptyCache(1));
    const token = argmax(logits);
    if (model.tokenizer.eosIds.includes(token)) break;
    out.push(token);
    ids.push(token);
  }
  return out;
}

describe('ONNX decoder-only engine on a generated llama (GQA, RoPE, RMSNorm, SwiGLU)', () => {
  let dir = '';
  let model: OnnxChatModel;
  let ours: OnnxChatModel;
  before(async () => {
    dir = await ensureLlmModel(TINY_LLM);
    model = await OnnxChatModel.load(dir);
    ours = model;
  });

  test('cached greedy decoding equals full recompute, token for token', async () => {
    const prompt = model.promptIds(MESSAGES);
    const cached = await model.generate(model.tokenizer.decode(prompt, false), { temperature: 0, maxTokens: 24 });
    assert.deepEqual(model.tokenizer.encode(model.tokenizer.decode(prompt, false)), prompt, 'the prompt round-trips through the tokenizer');
    const reference = await uncachedGreedy(model, prompt, 24);
    assert.ok(reference.length >= 8, 'the random model generates some tokens before any end');
    assert.deepEqual(cached.tokens, reference);
  });

  /**
   * transformers.js's greedy `generate()` on the same folder: each prompt's new tokens, end tokens dropped. The
   * reference model is loaded once for all prompts.
   */
  async function transformersGreedy(folder: string, prompts: readonly (readonly number[])[], eosIds: readonly number[], steps: number): Promise<number[][]> {
    const { env, AutoModelForCausalLM, Tensor } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${dirname(folder)}/`;
    const reference = await AutoModelForCausalLM.from_pretrained(basename(folder), { dtype: 'fp32' });
    try {
      const answers: number[][] = [];
      for (const prompt of prompts) {
        const input = new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]);
        const mask = new Tensor('int64', BigInt64Array.from(prompt, () => 1n), [1, prompt.length]);
        const output = (await reference.generate({ input_ids: input, attention_mask: mask, max_new_tokens: steps, do_sample: false })) as { tolist(): bigint[][] };
        answers.push(output.tolist()[0].slice(prompt.length).map(Number).filter((t) => !eosIds.includes(t)));
      }
      return answers;
    } finally {
      await reference.dispose();
    }
  }

  for (const tied of [false, true]) {
    test(`greedy tokens equal transformers.js generate() on the same folder (${tied ? 'tied' : 'untied'} LM head)`, async () => {
      const folder = tied ? await ensureLlmModel({ ...TINY_LLM, tied: true, seed: 12 }) : dir;
      const model = tied ? await OnnxChatModel.load(folder) : ours;
      const conversations = [MESSAGES, [{ role: 'user' as const, content: 'Hello! How are you?' }]];
      const theirs = await transformersGreedy(folder, conversations.map((m) => model.promptIds(m)), model.tokenizer.eosIds, 20);
      for (const [i, messages] of conversations.entries()) {
        const result = await model.chat(messages, { temperature: 0, maxTokens: 20 });
        assert.ok(result.tokens.length > 0);
        assert.deepEqual(result.tokens, theirs[i]);
      }
    });
  }

  test('a batch of left-padded prompts decodes as each prompt alone', async () => {
    const prompts = [model.promptIds(MESSAGES), model.tokenizer.encode('Once upon a time'), model.promptIds([{ role: 'user', content: 'Hi' }])];
    const batch = await model.generateBatch(prompts, { temperature: 0, maxTokens: 12 });
    for (const [i, prompt] of prompts.entries()) {
      const [alone] = await model.generateBatch([prompt], { temperature: 0, maxTokens: 12 });
      assert.deepEqual(batch[i].tokens, alone.tokens, `row ${i}`);
      assert.equal(batch[i].promptTokens, prompt.length);
    }
  });

  test('the next turn reuses the KV of the shared prefix and answers as a fresh model does', async () => {
    const first = await model.chat(MESSAGES, { temperature: 0, maxTokens: 8 });
    const next = [...MESSAGES, { role: 'assistant' as const, content: first.message.content }, { role: 'user' as const, content: 'And tomorrow?' }];
    const reused = await model.chat(next, { temperature: 0, maxTokens: 12 });
    assert.ok(reused.cachedTokens > model.promptIds(MESSAGES).length - 2, `cached ${reused.cachedTokens} prompt tokens`);
    const fresh = await (await OnnxChatModel.load(dir)).chat(next, { temperature: 0, maxTokens: 12 });
    assert.equal(fresh.cachedTokens, 0);
    assert.deepEqual(reused.tokens, fresh.tokens);
  });

  test('float16 logits (an fp16 export\'s) are widened: greedy tokens equal transformers.js generate() on the same folder', async () => {
    const folder = await ensureLlmModel({ ...TINY_LLM, kvDtype: 'float16', logitsDtype: 'float16', name: 'llama-tiny-fp16-io' });
    const half = await OnnxChatModel.load(folder);
    const prompt = half.promptIds(MESSAGES);
    const [theirs] = await transformersGreedy(folder, [prompt], half.tokenizer.eosIds, 20);
    const result = await half.chat(MESSAGES, { temperature: 0, maxTokens: 20 });
    assert.ok(result.tokens.length >= 8);
    assert.deepEqual(result.tokens, theirs);
    // The widened logits are the float16 values themselves (a half's float32 bits end in 13 zeros), none a misread
    // bit pattern, and close to the float32 model's.
    const logits = await half.decoder.start([prompt]).prefill();
    const bits = new Uint32Array(logits.buffer, logits.byteOffset, logits.length);
    assert.ok(bits.every((b) => (b & 0x1fff) === 0), 'every logit is a half');
    const full = await ours.decoder.start([prompt]).prefill();
    let diff = 0;
    for (let i = 0; i < full.length; i++) diff = Math.max(diff, Math.abs(full[i] - logits[i]));
    assert.ok(diff < 0.05, `float16 logits differ from float32 ones by ${diff}`);
  });

  test('a float16 KV cache stays float16 and tracks the float32 one', async () => {
    const half = await OnnxChatModel.load(await ensureLlmModel({ ...TINY_LLM, kvDtype: 'float16' }));
    assert.equal(half.decoder.kvType, 'float16');
    assert.equal(model.decoder.kvType, 'float32');
    const prompt = model.promptIds(MESSAGES);
    const state = half.decoder.start([prompt]);
    const full = model.decoder.start([prompt]);
    const [a, b] = [await state.prefill(), await full.prefill()];
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    assert.ok(diff < 0.05, `prefill logits differ by ${diff}`);
    const [x, y] = [await state.feed([[argmax(a)]]), await full.feed([[argmax(b)]])];
    diff = 0;
    for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
    assert.ok(diff < 0.05, `step logits differ by ${diff}`);
    assert.ok(diff > 0, 'the float16 cache rounds (it is not float32 in disguise)');
  });
});
