/**
 * Accelerators: dense (no 2:4 sparsity) peak FLOP/s per number format, memory, memory bandwidth and the
 * one-direction GPU-to-GPU bandwidth, from the vendors' datasheets. Memory is the datasheet's decimal GB;
 * the CUDA context and fragmentation take some of it, which `memoryUtilization` in the fit math leaves for.
 */
import { MoxingError } from '../errors.js';
import { CALC_DTYPES, type CalcDtype } from './dtypes.js';

export type ComputeFormat = 'fp32' | 'tf32' | 'fp16' | 'bf16' | 'fp8' | 'int8' | 'int4';

export interface GpuSpec {
  readonly name: string;
  /** Peak dense FLOP/s (or OP/s for integers) per format; null where the tensor cores lack it. */
  readonly flops: { readonly [F in ComputeFormat]: number | null };
  readonly memoryBytes: number;
  readonly memoryBandwidthBytesPerSecond: number;
  /** GPU-to-GPU bandwidth in one direction (NVLink or PCIe); kipply uses 300 GB/s for an A100. */
  readonly interconnectBytesPerSecond: number;
}

const T = 1e12;
const GB = 1e9;

export const GPUS = {
  'v100': {
    name: 'NVIDIA V100 SXM2 32GB',
    flops: { fp32: 15.7 * T, tf32: null, fp16: 125 * T, bf16: null, fp8: null, int8: 62.8 * T, int4: null },
    memoryBytes: 32 * GB, memoryBandwidthBytesPerSecond: 900 * GB, interconnectBytesPerSecond: 150 * GB,
  },
  'a100-40g': {
    name: 'NVIDIA A100 SXM4 40GB',
    flops: { fp32: 19.5 * T, tf32: 156 * T, fp16: 312 * T, bf16: 312 * T, fp8: null, int8: 624 * T, int4: 1248 * T },
    memoryBytes: 40 * GB, memoryBandwidthBytesPerSecond: 1555 * GB, interconnectBytesPerSecond: 300 * GB,
  },
  'a100-80g': {
    name: 'NVIDIA A100 SXM4 80GB',
    flops: { fp32: 19.5 * T, tf32: 156 * T, fp16: 312 * T, bf16: 312 * T, fp8: null, int8: 624 * T, int4: 1248 * T },
    memoryBytes: 80 * GB, memoryBandwidthBytesPerSecond: 2039 * GB, interconnectBytesPerSecond: 300 * GB,
  },
  'h100-sxm': {
    name: 'NVIDIA H100 SXM5 80GB',
    flops: { fp32: 67 * T, tf32: 494.7 * T, fp16: 989.4 * T, bf16: 989.4 * T, fp8: 1978.9 * T, int8: 1978.9 * T, int4: null },
    memoryBytes: 80 * GB, memoryBandwidthBytesPerSecond: 3350 * GB, interconnectBytesPerSecond: 450 * GB,
  },
  'h100-pcie': {
    name: 'NVIDIA H100 PCIe 80GB',
    flops: { fp32: 51 * T, tf32: 378 * T, fp16: 756 * T, bf16: 756 * T, fp8: 1513 * T, int8: 1513 * T, int4: null },
    memoryBytes: 80 * GB, memoryBandwidthBytesPerSecond: 2000 * GB, interconnectBytesPerSecond: 300 * GB,
  },
  'h200': {
    name: 'NVIDIA H200 SXM 141GB',
    flops: { fp32: 67 * T, tf32: 494.7 * T, fp16: 989.4 * T, bf16: 989.4 * T, fp8: 1978.9 * T, int8: 1978.9 * T, int4: null },
    memoryBytes: 141 * GB, memoryBandwidthBytesPerSecond: 4800 * GB, interconnectBytesPerSecond: 450 * GB,
  },
  'l4': {
    name: 'NVIDIA L4 24GB',
    flops: { fp32: 30.3 * T, tf32: 60 * T, fp16: 121 * T, bf16: 121 * T, fp8: 242.5 * T, int8: 242.5 * T, int4: null },
    memoryBytes: 24 * GB, memoryBandwidthBytesPerSecond: 300 * GB, interconnectBytesPerSecond: 32 * GB,
  },
  'l40s': {
    name: 'NVIDIA L40S 48GB',
    flops: { fp32: 91.6 * T, tf32: 183 * T, fp16: 362 * T, bf16: 362 * T, fp8: 733 * T, int8: 733 * T, int4: 733 * T },
    memoryBytes: 48 * GB, memoryBandwidthBytesPerSecond: 864 * GB, interconnectBytesPerSecond: 32 * GB,
  },
  'a10': {
    name: 'NVIDIA A10 24GB',
    flops: { fp32: 31.2 * T, tf32: 62.5 * T, fp16: 125 * T, bf16: 125 * T, fp8: null, int8: 250 * T, int4: 500 * T },
    memoryBytes: 24 * GB, memoryBandwidthBytesPerSecond: 600 * GB, interconnectBytesPerSecond: 32 * GB,
  },
  't4': {
    name: 'NVIDIA T4 16GB',
    flops: { fp32: 8.1 * T, tf32: null, fp16: 65 * T, bf16: null, fp8: null, int8: 130 * T, int4: 260 * T },
    memoryBytes: 16 * GB, memoryBandwidthBytesPerSecond: 320 * GB, interconnectBytesPerSecond: 16 * GB,
  },
  // GeForce tensor cores run fp16/bf16 with fp32 accumulation at half their fp16-accumulate rate; training
  // and most inference kernels accumulate in fp32, so that is the figure here.
  'rtx-3090': {
    name: 'NVIDIA GeForce RTX 3090 24GB',
    flops: { fp32: 35.6 * T, tf32: 35.6 * T, fp16: 71 * T, bf16: 71 * T, fp8: null, int8: 284 * T, int4: 568 * T },
    memoryBytes: 24 * GB, memoryBandwidthBytesPerSecond: 936 * GB, interconnectBytesPerSecond: 32 * GB,
  },
  'rtx-4090': {
    name: 'NVIDIA GeForce RTX 4090 24GB',
    flops: { fp32: 82.6 * T, tf32: 82.6 * T, fp16: 165.2 * T, bf16: 165.2 * T, fp8: 330.3 * T, int8: 660.6 * T, int4: 1321.2 * T },
    memoryBytes: 24 * GB, memoryBandwidthBytesPerSecond: 1008 * GB, interconnectBytesPerSecond: 32 * GB,
  },
  'mi300x': {
    name: 'AMD Instinct MI300X 192GB',
    flops: { fp32: 163.4 * T, tf32: 653.7 * T, fp16: 1307.4 * T, bf16: 1307.4 * T, fp8: 2614.9 * T, int8: 2614.9 * T, int4: null },
    memoryBytes: 192 * GB, memoryBandwidthBytesPerSecond: 5300 * GB, interconnectBytesPerSecond: 64 * GB,
  },
} as const satisfies Record<string, GpuSpec>;

export type GpuId = keyof typeof GPUS;

export const GPU_IDS: readonly GpuId[] = Object.freeze(Object.keys(GPUS) as GpuId[]);

/** The GPUs a calculation runs on: the options training, inference and fit share. */
export interface GpuChoice {
  /** A GPU of the table, or a spec of one's own. @default 'a100-80g' */
  gpu: GpuId | GpuSpec | string;
  /** @default 1 */
  gpus: number;
}

export const DEFAULT_GPU_CHOICE: Readonly<GpuChoice> = Object.freeze({ gpu: 'a100-80g', gpus: 1 });

// Common spellings people type; each maps to a table row.
const GPU_ALIASES: Readonly<Record<string, GpuId>> = Object.freeze({
  a100: 'a100-80g', 'a100-40gb': 'a100-40g', 'a100-80gb': 'a100-80g', h100: 'h100-sxm', 'h100-80g': 'h100-sxm',
  'h200-141g': 'h200', '4090': 'rtx-4090', '3090': 'rtx-3090', 'v100-32g': 'v100',
});

export function resolveGpu(gpu: GpuId | GpuSpec | string): GpuSpec {
  if (typeof gpu !== 'string') return validateGpu(gpu);
  const key = gpu.trim().toLowerCase();
  const id = Object.hasOwn(GPUS, key) ? (key as GpuId) : GPU_ALIASES[key];
  if (!id) throw new MoxingError('BAD_ARGUMENT', `unknown GPU "${gpu}"; use one of ${GPU_IDS.join(', ')}`);
  return GPUS[id];
}

function validateGpu(gpu: GpuSpec): GpuSpec {
  const positive = (n: number | null) => n === null || (Number.isFinite(n) && n > 0);
  const ok = [gpu.memoryBytes, gpu.memoryBandwidthBytesPerSecond, gpu.interconnectBytesPerSecond].every((n) => Number.isFinite(n) && n > 0)
    && Object.values(gpu.flops).every(positive);
  if (!ok) throw new MoxingError('BAD_ARGUMENT', `GPU "${gpu.name}" needs positive memory, bandwidths and FLOP/s`);
  return gpu;
}

/**
 * Peak FLOP/s for matmuls whose weights are stored as `dtype`. Formats the card lacks fall back to the
 * 16-bit rate (weight-only quantization dequantizes to fp16), then to fp32.
 */
export function peakFlops(gpu: GpuSpec, dtype: CalcDtype): number {
  const format = CALC_DTYPES[dtype].computeAs;
  const rate = gpu.flops[format] ?? gpu.flops.bf16 ?? gpu.flops.fp16 ?? gpu.flops.fp32;
  if (rate === null) throw new MoxingError('BAD_ARGUMENT', `GPU "${gpu.name}" has no FLOP/s figure for ${dtype}`);
  return rate;
}
