/**
 * Inference cost after kipply's "Transformer Inference Arithmetic": weights and KV cache in memory, the
 * memory-bound and compute-bound time of one decoding step, the batch where they cross, prefill time, and
 * the tensor-parallel communication terms.
 *
 * kipply's model, generalized: a decoding step reads every weight once and every cached key/value of the
 * batch (memory time = bytes / bandwidth), and does 2 FLOPs per active parameter per sequence plus the
 * attention term 2 · layers · context · d_attn (Kaplan et al. 2020) (compute time = FLOPs / peak). The step
 * takes the larger. Across N tensor-parallel GPUs each layer communicates 4 times: while the messages are
 * small each costs a fixed latency (8 µs, kipply's estimate); for large batches the bytes dominate,
 * batch · 2 bytes · 4 · layers · d_model / interconnect bandwidth. The step's communication is the larger of
 * the two, added to the compute time as kipply does (overlap would only lower it).
 */
import { MoxingError } from '../errors.js';
import { withDefaults } from '../defaults.js';
import { checkRange as check } from './units.js';
import type { Architecture } from './architecture.js';
import { bytesPerValue, parseCalcDtype, type CalcDtype } from './dtypes.js';
import { DEFAULT_GPU_CHOICE, peakFlops, resolveGpu, type GpuChoice, type GpuSpec } from './gpus.js';
import { summarizeModel } from './load.js';
import type { ModelSummary } from './params.js';

export interface InferenceOptions extends GpuChoice {
  /** GPUs the model is split over with tensor parallelism. @default 1 */
  gpus: number;
  /** How the weights are stored. @default 'bf16' */
  weightDtype: CalcDtype;
  /** How cached keys and values are stored. @default 'bf16' */
  kvDtype: CalcDtype;
  /** Sequences decoded together. @default 1 */
  batch: number;
  /** Tokens already in each sequence's KV cache when a step runs. @default the model's context length */
  contextTokens?: number;
  /** Prompt tokens per sequence to prefill. @default contextTokens (4 for Whisper: its start-of-transcript prompt) */
  promptTokens?: number;
  /** Latency of one small GPU-to-GPU message, seconds. @default 8e-6 (kipply) */
  commsLatencySeconds: number;
  /** Bytes per activation value sent between GPUs. @default 2 */
  activationBytes: number;
}

export const DEFAULT_INFERENCE: Readonly<InferenceOptions> = Object.freeze({
  ...DEFAULT_GPU_CHOICE, weightDtype: 'bf16', kvDtype: 'bf16', batch: 1, commsLatencySeconds: 8e-6, activationBytes: 2,
});

/** Communications per layer in a tensor-parallel decoding step (kipply). */
export const COMMS_PER_LAYER = 4;

export interface StepTime {
  /** Time to stream the weights (and KV cache) through memory. */
  readonly memorySeconds: number;
  /** Time to do the FLOPs at peak. */
  readonly flopsSeconds: number;
  /** max(memory, flops). */
  readonly computeSeconds: number;
  readonly bound: 'memory' | 'compute';
  /** Tensor-parallel communication (0 on one GPU). */
  readonly commsSeconds: number;
  /** compute + comms. */
  readonly totalSeconds: number;
}

export interface InferenceCost {
  readonly model: string;
  readonly kind: ModelSummary['kind'];
  readonly parameters: number;
  readonly activeParameters: number;
  readonly gpu: string;
  readonly gpus: number;
  readonly weightDtype: CalcDtype;
  readonly kvDtype: CalcDtype;
  readonly batch: number;
  readonly contextTokens: number;
  readonly promptTokens: number;
  /** Tokens each input brings to the encoder (Whisper frames, ViT patches + class token); 0 for decoder-only models. */
  readonly encoderTokens: number;
  readonly weightsBytes: number;
  /** 2 · bytes · kv layers · kv heads · head dim. */
  readonly kvCacheBytesPerToken: number;
  /** The whole batch's cache at `contextTokens` (plus Whisper's cross-attention cache). */
  readonly kvCacheBytes: number;
  readonly memoryPerGpuBytes: number;
  readonly gpuMemoryBytes: number;
  readonly fits: boolean;
  /** FLOPs per generated token: 2 · active decode parameters + the attention term. */
  readonly flopsPerToken: number;
  /** One decoding step for the whole batch; null for encoder-only models. */
  readonly decode: (StepTime & { readonly tokensPerSecond: number }) | null;
  /** Batch size above which a step is compute-bound; null when it never is. */
  readonly crossoverBatch: number | null;
  /** Prompt (and encoder) processing for the whole batch: the time to first token. */
  readonly prefill: StepTime;
}

/** KV cache bytes per token: keys and values, for every layer's KV heads. */
export function kvCacheBytesPerToken(model: ModelSummary, kvDtype: CalcDtype = 'bf16'): number {
  return 2 * bytesPerValue(kvDtype) * model.kvLayers * model.kvHeads * model.headDim;
}

/** Parameters whose bytes a decoding step reads: with experts, those any sequence of the batch routes to (uniform routing). */
function streamedDecodeParameters(m: ModelSummary, batch: number): number {
  if (!m.experts) return m.decodeParameters;
  const shared = m.decodeParameters - (m.experts.parameters * m.experts.perToken) / m.experts.count;
  const touched = 1 - (1 - m.experts.perToken / m.experts.count) ** batch;
  return shared + m.experts.parameters * touched;
}

/** What serving (infer and fit) checks first: the GPU, the two dtypes, the GPU and batch counts. */
export function servingSetup(o: Pick<InferenceOptions, 'gpu' | 'gpus' | 'weightDtype' | 'kvDtype' | 'batch'>): { gpu: GpuSpec; weightDtype: CalcDtype; kvDtype: CalcDtype } {
  // Callers outside TypeScript (a JSON API) may send any string.
  const setup = { gpu: resolveGpu(o.gpu), weightDtype: parseCalcDtype(o.weightDtype, 'weight dtype'), kvDtype: parseCalcDtype(o.kvDtype, 'KV cache dtype') };
  check('gpus', o.gpus, 1, 4096);
  check('batch', o.batch, 1, 1_000_000);
  return setup;
}

/** Memory, per-step latency, crossover batch and prefill time for serving `model`. */
export function inferenceCost(model: string | Architecture | ModelSummary, options: Partial<InferenceOptions> = {}): InferenceCost {
  const o: InferenceOptions = withDefaults(DEFAULT_INFERENCE, options);
  const m = summarizeModel(model);
  const { gpu, weightDtype, kvDtype } = servingSetup(o);
  check('comms latency', o.commsLatencySeconds, 0, 1, false);
  check('activation bytes', o.activationBytes, 0.5, 8, false);
  const contextTokens = o.contextTokens ?? m.maxContext;
  check('context', contextTokens, 0, 100_000_000);
  const promptTokens = o.promptTokens ?? (m.kind === 'whisper' ? 4 : m.kind === 'vit' ? 0 : contextTokens);
  check('prompt', promptTokens, 0, 100_000_000);
  if (m.kvLayers > 0 && contextTokens > 0 && promptTokens > contextTokens) {
    // The prompt sits in the cache the context sizes: a longer prompt cannot be served, whatever memory says.
    // (A context of 0 is the weights-only estimate, as kipply's, which models no cache at all.)
    throw new MoxingError('BAD_ARGUMENT', `the prompt (${promptTokens} tokens) is longer than the context (${contextTokens} tokens); raise the context or shorten the prompt`);
  }

  const N = o.gpus;
  const wb = bytesPerValue(weightDtype);
  const peak = peakFlops(gpu, weightDtype);
  const bandwidth = gpu.memoryBandwidthBytesPerSecond;
  const dAttn = m.heads * m.headDim;
  const weightsBytes = m.parameters * wb;
  const kvPerToken = kvCacheBytesPerToken(m, kvDtype);
  const cachedTokens = m.kvLayers > 0 ? contextTokens + m.fixedKvTokens : 0;
  const kvCacheBytes = o.batch * cachedTokens * kvPerToken;
  const memoryPerGpuBytes = (weightsBytes + kvCacheBytes) / N;

  const comms = (tokens: number, layers: number) =>
    N === 1 ? 0 : Math.max(COMMS_PER_LAYER * layers * o.commsLatencySeconds, (tokens * o.activationBytes * COMMS_PER_LAYER * layers * m.hiddenSize) / gpu.interconnectBytesPerSecond);
  const step = (memorySeconds: number, flopsSeconds: number, commsSeconds: number): StepTime => {
    const computeSeconds = Math.max(memorySeconds, flopsSeconds);
    return { memorySeconds, flopsSeconds, computeSeconds, bound: flopsSeconds > memorySeconds ? 'compute' : 'memory', commsSeconds, totalSeconds: computeSeconds + commsSeconds };
  };

  const flopsPerToken = m.decodeParameters > 0 ? 2 * (m.activeParameters - m.encoderParameters) + 2 * m.kvLayers * cachedTokens * dAttn : 0;
  let decode: InferenceCost['decode'] = null;
  let crossoverBatch: number | null = null;
  if (m.decodeParameters > 0) {
    const readBytes = streamedDecodeParameters(m, o.batch) * wb + kvCacheBytes;
    const s = step(readBytes / (N * bandwidth), (o.batch * flopsPerToken) / (N * peak), comms(o.batch, m.kvLayers));
    decode = { ...s, tokensPerSecond: o.batch / s.totalSeconds };
    // B · F / peak = (W + B · kv) / bandwidth, solved for B (dense weights; experts make W grow with B).
    const denominator = flopsPerToken / peak - (cachedTokens * kvPerToken) / bandwidth;
    crossoverBatch = denominator > 0 ? (m.decodeParameters * wb) / bandwidth / denominator : null;
  }

  // Causal prefill attends to i earlier tokens at position i: Σ 2·L·i·d_attn ≈ L·d_attn·p². The encoder attends both ways.
  const decoderPrefillFlops = m.decodeParameters > 0 ? 2 * (m.activeParameters - m.encoderParameters) * promptTokens + m.kvLayers * dAttn * promptTokens ** 2 : 0;
  const encoderLayers = m.layers - m.kvLayers;
  const encoderFlops = m.encoderParameters > 0 ? 2 * m.encoderParameters * m.encoderTokens + 2 * encoderLayers * m.hiddenSize * m.encoderTokens ** 2 : 0;
  const prefillFlops = o.batch * (decoderPrefillFlops + encoderFlops);
  const prefillTokens = o.batch * (promptTokens + m.encoderTokens);
  const prefill = step(weightsBytes / (N * bandwidth), prefillFlops / (N * peak), comms(prefillTokens, m.layers));

  return {
    model: m.name, kind: m.kind, parameters: m.parameters, activeParameters: m.activeParameters, gpu: gpu.name, gpus: N,
    weightDtype, kvDtype, batch: o.batch, contextTokens, promptTokens, encoderTokens: m.encoderTokens, weightsBytes,
    kvCacheBytesPerToken: kvPerToken, kvCacheBytes, memoryPerGpuBytes, gpuMemoryBytes: gpu.memoryBytes,
    fits: memoryPerGpuBytes <= gpu.memoryBytes, flopsPerToken, decode, crossoverBatch, prefill,
  };
}
