import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMoxingError } from '../../src/errors.js';
import {
  MODEL_PRESETS, countParameters, fitBudget, inferenceCost, kvCacheBytesPerToken,
  type CalcDtype, type DecoderArchitecture, type GpuSpec,
} from '../../src/calc/index.js';

// kipply's "Transformer Inference Arithmetic" uses these A100 constants: 312 TFLOP/s bf16, 1.5 TB/s HBM,
// 300 GB/s one-way NVLink. Their ratio is 208.
const KIPPLY_A100: GpuSpec = {
  name: 'A100 (kipply)', flops: { fp32: null, tf32: null, fp16: 312e12, bf16: 312e12, fp8: null, int8: null, int4: null },
  memoryBytes: 40e9, memoryBandwidthBytesPerSecond: 1.5e12, interconnectBytesPerSecond: 300e9,
};

// kipply counts P = 12 · layers · d² plus the token embeddings, with no biases or learned positions.
function kipplyModel(name: string, layers: number, d: number, vocabSize: number): DecoderArchitecture {
  return {
    kind: 'decoder', name, vocabSize, hiddenSize: d, layers, heads: d / 128, kvHeads: d / 128, headDim: 128, intermediateSize: 4 * d,
    gatedMlp: false, norm: 'rmsnorm', normsPerLayer: 2, attentionBias: 'none', mlpBias: false, position: 'rotary',
    maxPositions: 2048, tiedEmbeddings: true, embeddingNorm: false,
  };
}
const M52B = kipplyModel('Anthropic 52B', 64, 8192, 65536);
const M13B = kipplyModel('13B', 40, 5120, 50257);
// Gopher-sized: 280B less its 21.5B relative-position parameters, which kipply drops for 260B.
const M260B = kipplyModel('Gopher 260B', 80, 16384, 32000);

function within(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual / expected - 1) <= tolerance, `${what}: ${actual} is not within ${tolerance * 100}% of ${expected}`);
}

// kipply ignores the KV cache's reads in these figures, so the step runs at context 0.
const kipply = (model: DecoderArchitecture, gpus: number, batch = 1) =>
  inferenceCost(model, { gpu: KIPPLY_A100, gpus, batch, contextTokens: 0, promptTokens: 1 });

test('kipply 52B: 2,097,152 bytes of KV cache per token at 2 bytes per value', () => {
  assert.equal(countParameters(M52B).parameters - 64 * 2 * 8192 - 8192, 52_076_478_464, 'kipply: 51,539,607,552 + 536,870,912');
  assert.equal(kvCacheBytesPerToken(countParameters(M52B), 'bf16'), 2_097_152);
});

test('kipply 52B: a forward pass for up to 208 tokens takes ≈69 ms on 1 GPU and ≈17 ms on 4 (within 3%)', () => {
  const one = kipply(M52B, 1);
  within(one.decode!.computeSeconds, 0.069, 0.03, '1 GPU');
  assert.equal(one.decode!.bound, 'memory');
  assert.ok(Math.abs(one.crossoverBatch! - 208) < 1e-6, 'memory- and compute-bound cross at 312e12 / 1.5e12 = 208');
  within(kipply(M52B, 1, 208).decode!.computeSeconds, 0.069, 0.03, 'batch 208 on 1 GPU');
  assert.equal(kipply(M52B, 1, 209).decode!.bound, 'compute');
  within(kipply(M52B, 4).decode!.computeSeconds, 0.017, 0.03, '4 GPUs');
});

test('kipply 13B: 16.8 ms per token on 1 GPU (within 3%)', () => {
  // With the GPT vocabulary's 257M embedding parameters counted this is 17.1 ms; kipply's 16.8 is 12·L·d² alone.
  within(kipply(M13B, 1).decode!.computeSeconds, 0.0168, 0.03, '13B');
});

test('kipply 260B on 16 GPUs: ≈22 ms compute + ≈2.56 ms comms small; ≈53 ms + ≈18 ms at batch 512 (within 3%)', () => {
  const small = kipply(M260B, 16).decode!;
  within(small.computeSeconds, 0.022, 0.03, 'small-batch compute');
  // 4 messages per layer × 80 layers × 8 µs.
  within(small.commsSeconds, 0.00256, 1e-9, 'small-batch comms');
  const large = kipply(M260B, 16, 512).decode!;
  assert.equal(large.bound, 'compute');
  within(large.computeSeconds, 0.053, 0.03, 'batch-512 compute');
  // 512 · 2 bytes · 4 · 80 layers · 16384 / 300 GB/s.
  within(large.commsSeconds, 0.018, 0.03, 'batch-512 comms');
  assert.equal(large.totalSeconds, large.computeSeconds + large.commsSeconds);
});

test('kipply: 52B on three 40GB A100s leaves room for ≈8000 cached tokens', () => {
  // kipply: (120 - 104) GB / 0.002 GB per token ≈ 8000; unrounded, 15.85 GB / 2,097,152 B = 7,557.
  const fit = fitBudget(M52B, { gpu: KIPPLY_A100, gpus: 3, memoryUtilization: 1 });
  assert.equal(fit.kvTokenCapacity, Math.floor((120e9 - 2 * countParameters(M52B).parameters) / 2_097_152));
  within(fit.kvTokenCapacity, 8000, 0.06, 'capacity');
});

test('KV cache is GQA/MQA-aware and shrinks with KV quantization', () => {
  const kv = (id: keyof typeof MODEL_PRESETS, dtype: CalcDtype = 'bf16') => kvCacheBytesPerToken(countParameters(MODEL_PRESETS[id]), dtype);
  assert.equal(kv('llama-7b'), 2 * 2 * 32 * 32 * 128);
  assert.equal(kv('llama2-70b'), 2 * 2 * 80 * 8 * 128, 'GQA: 8 KV heads');
  assert.equal(kv('llama-65b') / kv('llama2-70b'), 8);
  assert.equal(kv('palm-540b'), 2 * 2 * 118 * 1 * 256, 'MQA: one KV head');
  assert.equal(kv('llama-7b', 'fp8'), kv('llama-7b') / 2);
  assert.equal(kv('llama-7b', 'int4'), kv('llama-7b') / 4);
  assert.equal(kv('llama-7b', 'q8_0'), (kv('llama-7b') * 8.5) / 16);
  assert.equal(kv('dinov2-base'), 0, 'encoder-only models keep no cache');
});

test('weights per dtype use the formats\' real bits per weight', () => {
  const w = (weightDtype: CalcDtype) => inferenceCost('llama-7b', { weightDtype }).weightsBytes;
  const P = 6_738_415_616;
  assert.equal(w('fp32'), 4 * P);
  assert.equal(w('bf16'), 2 * P);
  assert.equal(w('int8'), P);
  assert.equal(w('int4'), P / 2);
  assert.equal(w('q4_0'), (P * 4.5) / 8);
  assert.equal(w('q8_0'), (P * 8.5) / 8);
  assert.equal(w('q4_k_m'), (P * 4.84) / 8);
  assert.equal(w('q5_k_m'), (P * 5.68) / 8);
});

test('decoding reads the KV cache too: long contexts stay memory-bound', () => {
  const r = inferenceCost('llama-7b', { gpu: 'a100-80g', batch: 8, contextTokens: 2048 });
  const bandwidth = 2039e9;
  const expected = (2 * 6_738_415_616 + 8 * 2048 * 524_288) / bandwidth;
  within(r.decode!.memorySeconds, expected, 1e-12, 'memory time');
  // FLOPs per token: 2P plus Kaplan's attention term 2 · layers · context · d_attn.
  assert.equal(r.flopsPerToken, 2 * 6_738_415_616 + 2 * 32 * 2048 * 4096);
  assert.equal(r.crossoverBatch, null);
  // At a short context the crossover is near the FLOP/byte ratio (312e12 / 2.039e12 ≈ 153).
  const short = inferenceCost('llama-7b', { gpu: 'a100-80g', contextTokens: 1 });
  assert.ok(short.crossoverBatch! > 150 && short.crossoverBatch! < 160, String(short.crossoverBatch));
});

test('prefill is compute-bound for long prompts and at least one pass over the weights', () => {
  const r = inferenceCost('llama-7b', { gpu: 'h100-sxm', promptTokens: 2048, contextTokens: 2048 });
  assert.equal(r.prefill.bound, 'compute');
  const flops = 2 * 6_738_415_616 * 2048 + 32 * 4096 * 2048 ** 2;
  within(r.prefill.flopsSeconds, flops / 989.4e12, 1e-12, 'prefill FLOP time');
  const one = inferenceCost('llama-7b', { gpu: 'h100-sxm', promptTokens: 1 });
  assert.equal(one.prefill.bound, 'memory');
});

test('mixture of experts: batch 1 streams the active experts, large batches all of them', () => {
  const m = countParameters(MODEL_PRESETS['mixtral-8x7b']);
  const at = (batch: number) => inferenceCost(m, { gpu: 'h100-sxm', batch, contextTokens: 0 }).decode!.memorySeconds;
  within(at(1), (2 * m.activeParameters) / 3350e9, 1e-12, 'batch 1');
  within(at(256), (2 * m.parameters) / 3350e9, 1e-9, 'batch 256');
  assert.ok(at(4) > at(1) && at(4) < at(256));
});

test('Whisper decodes with the decoder and caches cross-attention; DINOv2 only has a forward pass', () => {
  const w = inferenceCost('whisper-tiny', { gpu: 't4' });
  const tiny = countParameters(MODEL_PRESETS['whisper-tiny']);
  assert.equal(w.kvCacheBytes, (448 + 1500) * 2 * 2 * 4 * 384);
  assert.equal(w.flopsPerToken, 2 * tiny.decodeParameters + 2 * 4 * (448 + 1500) * 384);
  const v = inferenceCost('dinov2-small', { gpu: 't4', batch: 32 });
  assert.equal(v.decode, null);
  assert.equal(v.prefill.bound, 'compute');
});

test('fit: the largest context for a batch and batch for a context', () => {
  const r = fitBudget('llama2-70b', { gpu: 'a100-80g', gpus: 2, kvDtype: 'fp8' });
  const capacity = Math.floor((2 * 80e9 * 0.9 - 2 * 68_976_648_192) / (2 * 80 * 8 * 128));
  assert.equal(r.kvTokenCapacity, capacity);
  assert.equal(r.maxContextTokens, 4096, 'capped at the model context');
  assert.equal(r.maxBatch, Math.floor(capacity / 4096));
  for (const row of r.table) assert.ok(row.batch * row.maxContextTokens <= capacity);
  assert.equal(r.table[0].batch, 1);
  const tooSmall = fitBudget('llama2-70b', { gpu: 'rtx-4090' });
  assert.equal(tooSmall.weightsFit, false);
  assert.equal(tooSmall.maxContextTokens, 0);
  assert.equal(tooSmall.table.length, 0);
  // Whisper's cross-attention cache is part of every sequence.
  const w = fitBudget('whisper-tiny', { memoryBytesPerGpu: 1e9, memoryUtilization: 1, contextTokens: 448 });
  assert.equal(w.maxBatch, Math.floor(w.kvTokenCapacity / (448 + 1500)));
});

test('bad inference inputs are BAD_ARGUMENT', () => {
  const bad = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && pattern.test((e as Error).message));
  bad(() => inferenceCost('llama-7b', { batch: 0 }), /batch/);
  bad(() => inferenceCost('llama-7b', { contextTokens: -5 }), /context/);
  bad(() => inferenceCost('llama-7b', { gpus: 1e9 }), /gpus/);
  bad(() => fitBudget('llama-7b', { memoryUtilization: 2 }), /memory utilization/);
  bad(() => fitBudget('dinov2-base'), /encoder-only/);
  bad(() => inferenceCost('llama-7b', { weightDtype: 'fp7' as never }), /dtype/);
});

test('fit: a memory size without a GPU names no table GPU; undefined options keep their defaults', () => {
  const own = fitBudget('llama-7b', { memoryBytesPerGpu: 24e9 });
  assert.equal(own.gpu, '24 GB GPU');
  assert.equal(own.budgetBytes, 24e9 * 0.9);
  assert.equal(fitBudget('llama-7b', { memoryBytesPerGpu: 24e9, gpu: 'rtx-4090' }).gpu, 'NVIDIA GeForce RTX 4090 24GB');
  const defaults = fitBudget('llama-7b', { gpu: undefined, gpus: undefined, memoryUtilization: undefined });
  assert.deepEqual(defaults, fitBudget('llama-7b'));
});

test('infer: a prompt longer than the context is refused, not answered "fits"', () => {
  assert.throws(() => inferenceCost('llama-7b', { contextTokens: 1024, promptTokens: 4096 }), /prompt \(4096 tokens\) is longer than the context \(1024 tokens\)/);
  assert.equal(inferenceCost('llama-7b', { contextTokens: 4096, promptTokens: 4096 }).contextTokens, 4096);
});
