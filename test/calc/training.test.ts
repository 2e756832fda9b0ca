import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMoxingError } from '../../src/errors.js';
import { GPUS, activationBytes, countParameters, MODEL_PRESETS, trainingCost } from '../../src/calc/index.js';

const llama7b = countParameters(MODEL_PRESETS['llama-7b']);
const P = llama7b.parameters;

test('LLaMA-7B activations at s=2048, b=1, t=1 match Transformer Math 101 exactly', () => {
  const x = { sequenceLength: 2048, microBatch: 1, hiddenSize: 4096, layers: 32, heads: 32, tensorParallel: 1 } as const;
  assert.equal(activationBytes({ ...x, recompute: 'none' }), 30_601_641_984);
  assert.equal(activationBytes({ ...x, recompute: 'selective' }), 9_126_805_504);
  assert.equal(activationBytes({ ...x, recompute: 'full' }), 536_870_912);
  // Through trainingCost, with the model's own sizes and context.
  assert.equal(trainingCost('llama-7b', { recompute: 'selective' }).memoryPerGpu.activationsBytes, 9_126_805_504);
});

test('tensor parallelism divides the terms Korthikanti et al. divide', () => {
  const x = { sequenceLength: 2048, microBatch: 4, hiddenSize: 4096, layers: 32, heads: 32, recompute: 'none' } as const;
  const sbhL = 2048 * 4 * 4096 * 32;
  assert.equal(activationBytes({ ...x, tensorParallel: 8 }), sbhL * (10 + 24 / 8 + (5 * 32 * 2048) / (4096 * 8)));
});

test('compute is 6PD, 8PD with full recomputation, and Chinchilla is 20 tokens per parameter', () => {
  const a = trainingCost(llama7b, { tokens: 1e12 });
  assert.equal(a.flops, 6 * P * 1e12);
  assert.equal(trainingCost(llama7b, { tokens: 1e12, recompute: 'full' }).flops, 8 * P * 1e12);
  const c = trainingCost(llama7b);
  assert.equal(c.tokens, 20 * P);
  assert.ok(c.tokensFromChinchilla);
});

test('GPU-hours and wall days follow from peak FLOP/s and MFU', () => {
  const r = trainingCost(llama7b, { tokens: 1e12, gpu: 'a100-80g', gpus: 2048, mfu: 0.5 });
  const gpuSeconds = (6 * P * 1e12) / (312e12 * 0.5);
  assert.ok(Math.abs(r.gpuHours - gpuSeconds / 3600) < 1e-6);
  assert.ok(Math.abs(r.wallDays - gpuSeconds / 2048 / 86400) < 1e-9);
  // The LLaMA paper reports 82,432 A100-hours for 7B on 1T tokens; 6PD at 40% MFU lands within 10% of it.
  const paper = trainingCost(llama7b, { tokens: 1e12, mfu: 0.4 });
  assert.ok(Math.abs(paper.gpuHours / 82_432 - 1) < 0.1, String(paper.gpuHours));
});

test('model states: 16 bytes per parameter with AdamW in mixed precision; ZeRO and model parallelism shard them', () => {
  const base = trainingCost(llama7b).memoryPerGpu;
  assert.equal(base.weightsBytes + base.gradientsBytes + base.optimizerBytes, 16 * P);
  assert.equal(trainingCost(llama7b, { optimizer: 'adam8bit' }).memoryPerGpu.optimizerBytes, 6 * P);
  assert.equal(trainingCost(llama7b, { optimizer: 'sgd' }).memoryPerGpu.optimizerBytes, 8 * P);
  assert.equal(trainingCost(llama7b, { precision: 'fp32' }).memoryPerGpu.weightsBytes, 4 * P);

  const z = (stage: 0 | 1 | 2 | 3) => trainingCost(llama7b, { gpus: 8, zeroStage: stage }).memoryPerGpu;
  assert.equal(z(1).optimizerBytes, (12 * P) / 8);
  assert.equal(z(1).gradientsBytes, 2 * P);
  assert.equal(z(2).gradientsBytes, (2 * P) / 8);
  assert.equal(z(2).weightsBytes, 2 * P);
  assert.equal(z(3).weightsBytes, (2 * P) / 8);

  const mp = trainingCost(llama7b, { gpus: 16, tensorParallel: 4, pipelineParallel: 2, zeroStage: 1 });
  assert.equal(mp.dataParallel, 2);
  assert.equal(mp.memoryPerGpu.weightsBytes, (2 * P) / 8);
  assert.equal(mp.memoryPerGpu.optimizerBytes, (12 * P) / 8 / 2);
  assert.equal(trainingCost(llama7b).gpuMemoryBytes, GPUS['a100-80g'].memoryBytes);
});

test('mixture of experts trains at the cost of its active parameters', () => {
  const mixtral = countParameters(MODEL_PRESETS['mixtral-8x7b']);
  assert.equal(trainingCost(mixtral, { tokens: 1e9 }).flops, 6 * mixtral.activeParameters * 1e9);
});

test('bad training inputs are BAD_ARGUMENT with the value named', () => {
  const bad = (options: Parameters<typeof trainingCost>[1], pattern: RegExp) =>
    assert.throws(() => trainingCost(llama7b, options), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && pattern.test((e as Error).message));
  bad({ tokens: -1 }, /tokens/);
  bad({ tokens: 1e30 }, /tokens/);
  bad({ gpus: 0 }, /gpus/);
  bad({ mfu: 1.5 }, /mfu/);
  bad({ gpus: 12, tensorParallel: 8 }, /multiple of tensor/);
  bad({ gpu: 'tpu-v9' }, /unknown GPU "tpu-v9"/);
  bad({ microBatch: 2.5 }, /micro-batch/);
});
