/** Options of `quantize`: the target, the method and its knobs, one defaults object. */
import { MoxingError } from '../errors.js';
import type { QuantizeMethod, RewriteSettings } from './rewrite.js';

export type QuantizeTarget = 'q8' | 'q4';
export const QUANTIZE_TARGETS: readonly QuantizeTarget[] = ['q8', 'q4'];
export const QUANTIZE_METHODS: readonly QuantizeMethod[] = ['matmulnbits', 'dynamic'];

export interface QuantizeOptions {
  /** `q8` writes `<name>_quantized.onnx`, `q4` writes `<name>_q4.onnx` (the real exports' suffixes). @default 'q8' */
  readonly to: QuantizeTarget;
  /**
   * How MatMuls are quantized. `dynamic`: int8 weights per output column and activations quantized per call
   * (DynamicQuantizeLinear + MatMulInteger, onnxruntime's quantize_dynamic); q8 only. `matmulnbits`: weight-only
   * blocks of `bits` (com.microsoft MatMulNBits), for q8 or q4.
   * @default 'dynamic' for q8 (measured faster here, see bench/quantize.ts), 'matmulnbits' for q4
   */
  readonly method?: QuantizeMethod;
  /** Weights per scale along K for MatMulNBits (16 or more, a power of two). @default 32 */
  readonly blockSize: number;
  /** MatMulNBits blocks without zero points (centred at 2^(bits-1)). @default false (zero points: more accurate) */
  readonly symmetric: boolean;
  /**
   * MatMulNBits `accuracy_level`: 0 keeps activations float32 (ORT picks), 4 lets ORT quantize activations to
   * int8 inside the kernel (faster on CPUs with VNNI). @default 4
   */
  readonly accuracyLevel: number;
  /**
   * Dynamic method only: also quantize MatMuls of two activations (attention scores Q·Kᵀ), per tensor and per
   * call, as quantize_dynamic does without MatMulConstBOnly (but with int8 B). Only in models without a key/value
   * cache or encoder-state input, and not probs·V (see rewrite-matmul.ts). Measured 1.15-1.17x on the base encoder over
   * q8 without it, logit error +11% (bench/quantize.ts). Off by default: one scale per tensor for K was checked on
   * random weights only, and trained models' keys can have outlier channels; the published q8 exports
   * (transformers.js's quantize script, MatMulConstBOnly) keep attention float too.
   * @default false
   */
  readonly activationMatMuls?: boolean;
  /**
   * The tied output projection (a decoder's lm-head, read through Transpose of the token embedding) as MatMulNBits
   * of these bits with `accuracyLevel`, whatever the method (e.g. dynamic q8 elsewhere). Unset: as every other MatMul.
   */
  readonly headBits?: 4 | 8;
  /** Gather tables (embeddings) with at least this many elements become int8 rows. @default 1048576 */
  readonly embeddingMinElements: number;
  /** Overwrite existing quantized files. @default false */
  readonly force: boolean;
}

export const DEFAULT_QUANTIZE: Readonly<QuantizeOptions> = Object.freeze({
  to: 'q8',
  blockSize: 32,
  symmetric: false,
  accuracyLevel: 4,
  embeddingMinElements: 1 << 20,
  force: false,
});

export interface ResolvedQuantize extends RewriteSettings {
  readonly to: QuantizeTarget;
  readonly force: boolean;
}

export function resolveQuantizeOptions(options: Partial<QuantizeOptions> = {}): ResolvedQuantize {
  const o = { ...DEFAULT_QUANTIZE, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as QuantizeOptions;
  if (!QUANTIZE_TARGETS.includes(o.to)) {
    throw new MoxingError('BAD_ARGUMENT', `quantize target must be one of ${QUANTIZE_TARGETS.join(', ')}, got "${o.to}"`);
  }
  const method = o.method ?? (o.to === 'q8' ? 'dynamic' : 'matmulnbits');
  if (!QUANTIZE_METHODS.includes(method)) {
    throw new MoxingError('BAD_ARGUMENT', `quantize method must be one of ${QUANTIZE_METHODS.join(', ')}, got "${method}"`);
  }
  if (method === 'dynamic' && o.to === 'q4') {
    throw new MoxingError('BAD_ARGUMENT', 'the dynamic method is int8 only: use --to q8, or --method matmulnbits for q4');
  }
  if (o.activationMatMuls === true && method !== 'dynamic') {
    throw new MoxingError('BAD_ARGUMENT', `activation MatMuls are quantized by the dynamic method only, not ${method}: use --method dynamic (q8), or drop --activation-matmuls`);
  }
  if (!Number.isInteger(o.blockSize) || o.blockSize < 16 || (o.blockSize & (o.blockSize - 1)) !== 0) {
    throw new MoxingError('BAD_ARGUMENT', `block size must be a power of two of at least 16, got ${o.blockSize}`);
  }
  if (o.headBits !== undefined && o.headBits !== 4 && o.headBits !== 8) {
    throw new MoxingError('BAD_ARGUMENT', `lm-head bits must be 4 or 8, got ${String(o.headBits)}`);
  }
  if (![0, 1, 2, 3, 4].includes(o.accuracyLevel)) {
    throw new MoxingError('BAD_ARGUMENT', `accuracy level must be 0 to 4, got ${o.accuracyLevel}`);
  }
  return {
    to: o.to,
    force: o.force,
    method,
    bits: o.to === 'q8' ? 8 : 4,
    blockSize: o.blockSize,
    symmetric: o.symmetric,
    accuracyLevel: o.accuracyLevel,
    embeddingMinElements: o.embeddingMinElements,
    activationMatMuls: o.activationMatMuls ?? false,
    ...(o.headBits ? { headBits: o.headBits } : {}),
  };
}
