/**
 * Training cost after EleutherAI's "Transformer Math 101": compute C = 6PD (8PD when every layer is
 * recomputed), Chinchilla's 20 tokens per parameter, and memory per GPU for model states (sharded by ZeRO
 * and divided by tensor/pipeline parallelism) plus activations (Korthikanti et al. 2022).
 */
import { withDefaults } from '../defaults.js';
import { MoxingError } from '../errors.js';
import { checkRange as check } from './units.js';
import type { Architecture } from './architecture.js';
import type { ModelSummary } from './params.js';
import { DEFAULT_GPU_CHOICE, peakFlops, resolveGpu, type GpuChoice } from './gpus.js';
import { summarizeModel } from './load.js';

/** Optimizer state bytes per parameter (Transformer Math 101): AdamW keeps an fp32 copy, momentum and variance. */
export const OPTIMIZER_BYTES_PER_PARAM = Object.freeze({ adamw: 12, adam8bit: 6, sgd: 8 } as const);
export type Optimizer = keyof typeof OPTIMIZER_BYTES_PER_PARAM;
export const OPTIMIZERS = Object.freeze(Object.keys(OPTIMIZER_BYTES_PER_PARAM) as Optimizer[]);
export const RECOMPUTE_MODES = Object.freeze(['none', 'selective', 'full'] as const);
export type Recompute = (typeof RECOMPUTE_MODES)[number];
export const TRAINING_PRECISIONS = Object.freeze(['fp32', 'fp16', 'bf16'] as const);
export type TrainingPrecision = (typeof TRAINING_PRECISIONS)[number];

/** Chinchilla (Hoffmann et al. 2022): compute-optimal training uses about 20 tokens per parameter. */
export const CHINCHILLA_TOKENS_PER_PARAMETER = 20;

export interface TrainingOptions extends GpuChoice {
  /** Training tokens D. @default 20 × parameters (Chinchilla) */
  tokens?: number;
  /** Model FLOPs utilization: the fraction of peak the run sustains. @default 0.4 */
  mfu: number;
  /** Precision of weights and gradients (mixed precision keeps the fp32 master copy in the optimizer). @default 'bf16' */
  precision: TrainingPrecision;
  /** @default 'adamw' */
  optimizer: Optimizer;
  /** ZeRO stage over the data-parallel group: 1 shards optimizer states, 2 also gradients, 3 also weights. @default 0 */
  zeroStage: 0 | 1 | 2 | 3;
  /** @default 1 */
  tensorParallel: number;
  /** @default 1 */
  pipelineParallel: number;
  /** Activation recomputation. @default 'none' */
  recompute: Recompute;
  /** Sequences per GPU per step. @default 1 */
  microBatch: number;
  /** Tokens per sequence. @default the model's context length */
  sequenceLength?: number;
}

export const DEFAULT_TRAINING: Readonly<TrainingOptions> = Object.freeze({
  ...DEFAULT_GPU_CHOICE, mfu: 0.4, precision: 'bf16', optimizer: 'adamw', zeroStage: 0,
  tensorParallel: 1, pipelineParallel: 1, recompute: 'none', microBatch: 1,
});

export interface ActivationInput {
  /** s: tokens per sequence. */
  readonly sequenceLength: number;
  /** b: sequences per micro-batch. */
  readonly microBatch: number;
  /** h: hidden size. */
  readonly hiddenSize: number;
  /** L: transformer layers. */
  readonly layers: number;
  /** a: attention heads. */
  readonly heads: number;
  /** t: tensor-parallel degree. */
  readonly tensorParallel: number;
  readonly recompute: Recompute;
}

/**
 * Activation bytes of one micro-batch with 16-bit activations (Transformer Math 101, after Korthikanti et al.):
 * none sbhL(10 + 24/t + 5as/(ht)), selective sbhL(10 + 24/t), full 2sbhL.
 */
export function activationBytes(x: ActivationInput): number {
  const { sequenceLength: s, microBatch: b, hiddenSize: h, layers: L, heads: a, tensorParallel: t } = x;
  const sbhL = s * b * h * L;
  switch (x.recompute) {
    case 'none':
      return sbhL * (10 + 24 / t + (5 * a * s) / (h * t));
    case 'selective':
      return sbhL * (10 + 24 / t);
    case 'full':
      return 2 * sbhL;
  }
}

export interface TrainingMemory {
  readonly weightsBytes: number;
  readonly gradientsBytes: number;
  readonly optimizerBytes: number;
  readonly activationsBytes: number;
  readonly totalBytes: number;
}

export interface TrainingCost {
  readonly model: string;
  readonly parameters: number;
  /** Parameters each token passes through (the P in 6PD; all of them unless the model is a mixture of experts). */
  readonly activeParameters: number;
  readonly tokens: number;
  readonly tokensFromChinchilla: boolean;
  readonly chinchillaTokens: number;
  /** 6 normally, 8 when every layer's forward pass is recomputed. */
  readonly flopsPerParameterToken: number;
  readonly flops: number;
  readonly gpu: string;
  readonly gpus: number;
  readonly peakFlopsPerGpu: number;
  readonly mfu: number;
  readonly gpuHours: number;
  readonly wallSeconds: number;
  readonly wallDays: number;
  readonly dataParallel: number;
  readonly tensorParallel: number;
  readonly pipelineParallel: number;
  readonly zeroStage: number;
  readonly sequenceLength: number;
  readonly microBatch: number;
  readonly recompute: Recompute;
  readonly optimizer: Optimizer;
  /** Bytes on each GPU. */
  readonly memoryPerGpu: TrainingMemory;
  readonly gpuMemoryBytes: number;
  readonly fits: boolean;
}

/** Compute, time and per-GPU memory to train `model` on `tokens` tokens. */
export function trainingCost(model: string | Architecture | ModelSummary, options: Partial<TrainingOptions> = {}): TrainingCost {
  const o: TrainingOptions = withDefaults(DEFAULT_TRAINING, options);
  const m = summarizeModel(model);
  const gpu = resolveGpu(o.gpu);
  check('gpus', o.gpus, 1, 1_000_000);
  check('mfu', o.mfu, 0.001, 1, false);
  check('tensor parallel', o.tensorParallel, 1, 1024);
  check('pipeline parallel', o.pipelineParallel, 1, 1024);
  check('micro-batch', o.microBatch, 1, 1_000_000);
  if (!(TRAINING_PRECISIONS as readonly string[]).includes(o.precision)) throw new MoxingError('BAD_ARGUMENT', `training precision must be ${TRAINING_PRECISIONS.join(', ')}, got "${o.precision}"`);
  if (!(RECOMPUTE_MODES as readonly string[]).includes(o.recompute)) throw new MoxingError('BAD_ARGUMENT', `recompute must be ${RECOMPUTE_MODES.join(', ')}, got "${o.recompute}"`);
  if (![0, 1, 2, 3].includes(o.zeroStage)) throw new MoxingError('BAD_ARGUMENT', `ZeRO stage must be 0, 1, 2 or 3, got ${o.zeroStage}`);
  if (!Object.hasOwn(OPTIMIZER_BYTES_PER_PARAM, o.optimizer)) throw new MoxingError('BAD_ARGUMENT', `optimizer must be one of ${Object.keys(OPTIMIZER_BYTES_PER_PARAM).join(', ')}, got "${o.optimizer}"`);
  const modelParallel = o.tensorParallel * o.pipelineParallel;
  if (o.gpus % modelParallel !== 0) {
    throw new MoxingError('BAD_ARGUMENT', `gpus (${o.gpus}) must be a multiple of tensor × pipeline parallel (${o.tensorParallel} × ${o.pipelineParallel})`);
  }
  const sequenceLength = o.sequenceLength ?? m.maxContext;
  check('sequence length', sequenceLength, 1, 100_000_000);
  const chinchillaTokens = CHINCHILLA_TOKENS_PER_PARAMETER * m.parameters;
  const tokens = o.tokens ?? chinchillaTokens;
  check('tokens', tokens, 1, 1e18, false);

  const flopsPerParameterToken = o.recompute === 'full' ? 8 : 6;
  const flops = flopsPerParameterToken * m.activeParameters * tokens;
  const peak = peakFlops(gpu, o.precision);
  const gpuSeconds = flops / (peak * o.mfu);
  const wallSeconds = gpuSeconds / o.gpus;

  const dataParallel = o.gpus / modelParallel;
  const paramsPerGpu = m.parameters / modelParallel;
  const bytes = o.precision === 'fp32' ? 4 : 2;
  const shard = (stage: number) => (o.zeroStage >= stage ? dataParallel : 1);
  const weightsBytes = (paramsPerGpu * bytes) / shard(3);
  const gradientsBytes = (paramsPerGpu * bytes) / shard(2);
  const optimizerBytes = (paramsPerGpu * OPTIMIZER_BYTES_PER_PARAM[o.optimizer]) / shard(1);
  // Under 1F1B the first pipeline stage holds p micro-batches of its L/p layers: the same bytes as all L layers.
  const activationsBytes = activationBytes({
    sequenceLength, microBatch: o.microBatch, hiddenSize: m.hiddenSize, layers: m.layers, heads: m.heads,
    tensorParallel: o.tensorParallel, recompute: o.recompute,
  });
  const totalBytes = weightsBytes + gradientsBytes + optimizerBytes + activationsBytes;
  return {
    model: m.name, parameters: m.parameters, activeParameters: m.activeParameters, tokens, tokensFromChinchilla: o.tokens === undefined,
    chinchillaTokens, flopsPerParameterToken, flops, gpu: gpu.name, gpus: o.gpus, peakFlopsPerGpu: peak, mfu: o.mfu,
    gpuHours: gpuSeconds / 3600, wallSeconds, wallDays: wallSeconds / 86400, dataParallel, tensorParallel: o.tensorParallel,
    pipelineParallel: o.pipelineParallel, zeroStage: o.zeroStage, sequenceLength, microBatch: o.microBatch, recompute: o.recompute,
    optimizer: o.optimizer, memoryPerGpu: { weightsBytes, gradientsBytes, optimizerBytes, activationsBytes, totalBytes },
    gpuMemoryBytes: gpu.memoryBytes, fits: totalBytes <= gpu.memoryBytes,
  };
}
