/**
 * What fits in a memory budget: after the weights, how many cached tokens remain, and so the largest
 * context for a batch size and the largest batch for a context.
 */
import { withDefaults } from '../defaults.js';
import { MoxingError } from '../errors.js';
import { checkRange as check, formatBytes } from './units.js';
import type { Architecture } from './architecture.js';
import { bytesPerValue, type CalcDtype } from './dtypes.js';
import { DEFAULT_GPU_CHOICE } from './gpus.js';
import { DEFAULT_INFERENCE, kvCacheBytesPerToken, servingSetup, type InferenceOptions } from './inference.js';
import { summarizeModel } from './load.js';
import type { ModelSummary } from './params.js';

/** Serving's GPUs and formats (InferenceOptions'), and the memory to fit in. */
export interface FitOptions extends Pick<InferenceOptions, 'gpu' | 'gpus' | 'weightDtype' | 'kvDtype'> {
  /** Memory per GPU, bytes, instead of the GPU table's. */
  memoryBytesPerGpu?: number;
  /** Fraction of memory the weights and cache may use; the rest is left for the CUDA context, activations and fragmentation (vLLM's default). @default 0.9 */
  memoryUtilization: number;
  /** Sequences served together: the answer gives the longest context for it. @default 1 */
  batch: number;
  /** Tokens per sequence: the answer gives the largest batch for it. @default the model's context length */
  contextTokens?: number;
}

export const DEFAULT_FIT: Readonly<FitOptions> = Object.freeze({
  ...DEFAULT_GPU_CHOICE, memoryUtilization: 0.9, weightDtype: DEFAULT_INFERENCE.weightDtype, kvDtype: DEFAULT_INFERENCE.kvDtype, batch: 1,
});

export interface FitRow {
  readonly batch: number;
  /** Longest context that fits at this batch size, capped at the model's context length. */
  readonly maxContextTokens: number;
}

export interface FitResult {
  readonly model: string;
  readonly gpu: string;
  readonly gpus: number;
  readonly weightDtype: CalcDtype;
  readonly kvDtype: CalcDtype;
  readonly budgetBytes: number;
  readonly weightsBytes: number;
  readonly weightsFit: boolean;
  readonly kvCacheBytesPerToken: number;
  /** Cached tokens the rest of the budget holds, over all sequences. */
  readonly kvTokenCapacity: number;
  readonly batch: number;
  /** Longest context for `batch` sequences (0 when even one token does not fit). */
  readonly maxContextTokens: number;
  readonly contextTokens: number;
  /** Largest batch at `contextTokens`. */
  readonly maxBatch: number;
  /** The model's own context limit. */
  readonly modelMaxContext: number;
  /** Longest context at batch 1, 2, 4, … 4096 while any fits. */
  readonly table: readonly FitRow[];
}

/** The table stops here: larger batches are not served from one model replica in practice. */
const MAX_TABLE_BATCH = 4096;

/** The largest batch × context that `model` can serve within the GPUs' memory. */
export function fitBudget(model: string | Architecture | ModelSummary, options: Partial<FitOptions> = {}): FitResult {
  const o: FitOptions = withDefaults(DEFAULT_FIT, options);
  const m = summarizeModel(model);
  if (m.kvLayers === 0) {
    throw new MoxingError('BAD_ARGUMENT', `${m.name} is an encoder-only model with no KV cache to fit; use \`moxing calc infer\` for its memory`);
  }
  const { gpu, weightDtype, kvDtype } = servingSetup(o);
  check('memory utilization', o.memoryUtilization, 0.01, 1, false);
  const memory = o.memoryBytesPerGpu ?? gpu.memoryBytes;
  check('memory per GPU', memory, 1, 1e15, false);
  const contextTokens = o.contextTokens ?? m.maxContext;
  check('context', contextTokens, 1, 100_000_000);

  // A memory size given without a GPU describes the user's card, not the default GPU of the table.
  const gpuName = options.memoryBytesPerGpu !== undefined && options.gpu === undefined ? `${formatBytes(memory)} GPU` : gpu.name;
  const budgetBytes = o.gpus * memory * o.memoryUtilization;
  const weightsBytes = m.parameters * bytesPerValue(weightDtype);
  const kvPerToken = kvCacheBytesPerToken(m, kvDtype);
  const free = Math.max(0, budgetBytes - weightsBytes);
  const capacity = Math.floor(free / kvPerToken);
  const perSequence = (tokens: number) => tokens + m.fixedKvTokens;
  const contextFor = (batch: number) => Math.max(0, Math.min(m.maxContext, Math.floor(capacity / batch) - m.fixedKvTokens));
  const table: FitRow[] = [];
  for (let batch = 1; batch <= MAX_TABLE_BATCH; batch *= 2) {
    const maxContextTokens = contextFor(batch);
    if (maxContextTokens < 1) break;
    table.push({ batch, maxContextTokens });
  }
  return {
    model: m.name, gpu: gpuName, gpus: o.gpus, weightDtype, kvDtype, budgetBytes, weightsBytes,
    weightsFit: weightsBytes <= budgetBytes, kvCacheBytesPerToken: kvPerToken, kvTokenCapacity: capacity, batch: o.batch,
    maxContextTokens: contextFor(o.batch), contextTokens, maxBatch: Math.floor(capacity / perSequence(contextTokens)),
    modelMaxContext: m.maxContext, table,
  };
}
