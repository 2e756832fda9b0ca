import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import { loadEmbeddingModel, OnnxEmbeddingModel, type EmbeddingModel } from '../../src/embeddings/index.js';
import { ensureBertModel, TINY_BERT } from '../models/bert.js';
import { ensureLlmGguf } from '../models/gguf.js';
import { TINY_LLM } from '../models/llm.js';

const TEXTS = ['Hello world, the weather in Paris!', 'a cat', 'The dog is embedding things in the rain, slowly and surely.', 'sun'];

function assertClose(actual: Float32Array, expected: ArrayLike<number>, tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, label);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= tolerance, `${label}: max difference ${worst}`);
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

/** transformers.js's feature-extraction pipeline on the same folder, pooled and normalised as asked. */
async function transformersJs(dir: string, texts: readonly string[], pooling: 'mean' | 'cls', normalize: boolean): Promise<Float32Array[]> {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${dirname(dir)}/`;
  const extractor = await pipeline('feature-extraction', basename(dir), { dtype: 'fp32' });
  try {
    const out: Float32Array[] = [];
    // One at a time: the reference must not depend on our batching.
    for (const text of texts) out.push(Float32Array.from((await extractor(text, { pooling, normalize })).data as Float32Array));
    return out;
  } finally {
    await extractor.dispose();
  }
}

describe('text embeddings on ONNX Runtime (a BERT-like sentence-embedding export)', () => {
  let dir = '';
  let model: OnnxEmbeddingModel;
  before(async () => {
    dir = await ensureBertModel(TINY_BERT);
    model = await OnnxEmbeddingModel.load(dir);
  });

  test('mean-pooled, normalised vectors equal transformers.js feature-extraction (pooling mean, normalize) within 1e-5', async () => {
    assert.deepEqual(model.pooling, { mode: 'mean', normalize: true }, 'read from modules.json and 1_Pooling/config.json');
    const reference = await transformersJs(dir, TEXTS, 'mean', true);
    const { embeddings, promptTokens } = await model.embed(TEXTS);
    assert.equal(embeddings.length, TEXTS.length);
    for (const [i, vector] of embeddings.entries()) {
      assertClose(vector, reference[i], 1e-5, TEXTS[i]);
      assert.ok(Math.abs(norm(vector) - 1) < 1e-5);
    }
    assert.equal(promptTokens, TEXTS.reduce((n, t) => n + model.tokenize(t).length, 0));
  });

  test('a padded batch equals each input alone; token ids equal their text', async () => {
    const batch = (await model.embed(TEXTS)).embeddings;
    for (const [i, text] of TEXTS.entries()) {
      const [alone] = (await model.embed([text])).embeddings;
      assertClose(batch[i], alone, 1e-6, `batch row ${i}`);
      const [fromIds] = (await model.embed([model.tokenize(text)])).embeddings;
      assert.deepEqual(fromIds, alone);
    }
    assert.notDeepEqual(batch[0], batch[1]);
  });

  test('cls pooling without Normalize, and no sentence-transformers files (mean, normalised), follow the folder', async () => {
    const clsDir = await ensureBertModel({ ...TINY_BERT, name: 'bge-tiny-random', pooling: 'cls', normalize: false, seed: 22 });
    const cls = await OnnxEmbeddingModel.load(clsDir);
    assert.deepEqual(cls.pooling, { mode: 'cls', normalize: false });
    const clsReference = await transformersJs(clsDir, TEXTS.slice(0, 2), 'cls', false);
    const clsOurs = (await cls.embed(TEXTS.slice(0, 2))).embeddings;
    for (let i = 0; i < 2; i++) assertClose(clsOurs[i], clsReference[i], 1e-5, `cls ${i}`);
    const bareDir = await ensureBertModel({ ...TINY_BERT, name: 'bert-tiny-random', pooling: false, seed: 23 });
    const bare = await OnnxEmbeddingModel.load(bareDir);
    assert.deepEqual(bare.pooling, { mode: 'mean', normalize: true });
  });

  test('inputs over the context, empty or with ids outside the vocabulary are refused by name', async () => {
    await assert.rejects(model.embed(['rain '.repeat(200)]), /input 0 is \d+ tokens and this model takes at most 128/);
    await assert.rejects(model.embed(['ok', [2, 99999, 3]]), /input 1 has token id 99999/);
    await assert.rejects(model.embed([[]]), /input 0 is empty/);
  });
});

describe('text embeddings on llama.cpp (node-llama-cpp\'s embedding context on a GGUF)', () => {
  let model: EmbeddingModel;
  before(async () => {
    model = await loadEmbeddingModel(ensureLlmGguf(TINY_LLM, 'F32'));
  });
  after(async () => {
    await model?.dispose();
  });

  test('one normalised vector of the model\'s width per input; a batch equals one by one; deterministic', async () => {
    assert.equal(model.engine, 'llama.cpp');
    assert.equal(model.dimensions, TINY_LLM.hidden);
    const { embeddings, promptTokens } = await model.embed(TEXTS);
    assert.equal(embeddings.length, TEXTS.length);
    assert.ok(promptTokens >= TEXTS.length);
    for (const [i, text] of TEXTS.entries()) {
      assert.equal(embeddings[i].length, TINY_LLM.hidden);
      assert.ok(Math.abs(norm(embeddings[i]) - 1) < 1e-5);
      assert.deepEqual((await model.embed([text])).embeddings[0], embeddings[i]);
    }
    assert.notDeepEqual(embeddings[0], embeddings[1]);
  });
});
