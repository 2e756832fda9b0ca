/**
 * Number formats for weights and the KV cache, as bits per stored value. GGUF formats carry their block
 * scales in the figure, so a size is simply `count · bits / 8`.
 */
import { MoxingError } from '../errors.js';

export interface CalcDtypeSpec {
  /** Storage cost per value, including block scales. */
  readonly bitsPerValue: number;
  /** The peak-FLOP/s row of the GPU table that matmuls in this format run at. */
  readonly computeAs: 'fp32' | 'tf32' | 'fp16' | 'bf16' | 'fp8' | 'int8' | 'int4';
  readonly description: string;
}

export const CALC_DTYPES = {
  fp32: { bitsPerValue: 32, computeAs: 'fp32', description: 'IEEE float32' },
  fp16: { bitsPerValue: 16, computeAs: 'fp16', description: 'IEEE float16' },
  bf16: { bitsPerValue: 16, computeAs: 'bf16', description: 'bfloat16' },
  fp8: { bitsPerValue: 8, computeAs: 'fp8', description: 'float8 (e4m3/e5m2)' },
  int8: { bitsPerValue: 8, computeAs: 'int8', description: '8-bit integer, per-channel scales not counted' },
  int4: { bitsPerValue: 4, computeAs: 'int4', description: '4-bit integer, group scales not counted' },
  // GGUF block formats dequantize to fp16 for the matmul on GPUs. q4_0 stores 32 weights in 18 bytes
  // (16 B of nibbles + an fp16 scale) and q8_0 32 weights in 34 bytes, so 4.5 and 8.5 bits exactly.
  q4_0: { bitsPerValue: 4.5, computeAs: 'fp16', description: 'GGUF Q4_0: 32-weight blocks, fp16 scale' },
  q8_0: { bitsPerValue: 8.5, computeAs: 'fp16', description: 'GGUF Q8_0: 32-weight blocks, fp16 scale' },
  // The K-quant "_M" mixes keep some tensors at higher precision, so their size depends on the model; these
  // are the bits per weight llama.cpp's quantize README measures on Llama 2 7B.
  q4_k_m: { bitsPerValue: 4.84, computeAs: 'fp16', description: 'GGUF Q4_K_M mix (4.84 bpw on Llama 2 7B)' },
  q5_k_m: { bitsPerValue: 5.68, computeAs: 'fp16', description: 'GGUF Q5_K_M mix (5.68 bpw on Llama 2 7B)' },
} as const satisfies Record<string, CalcDtypeSpec>;

export type CalcDtype = keyof typeof CALC_DTYPES;

export const CALC_DTYPE_IDS: readonly CalcDtype[] = Object.freeze(Object.keys(CALC_DTYPES) as CalcDtype[]);

export function isCalcDtype(value: string): value is CalcDtype {
  return Object.hasOwn(CALC_DTYPES, value);
}

export function parseCalcDtype(value: string, what = 'dtype'): CalcDtype {
  const key = value.trim().toLowerCase();
  if (!isCalcDtype(key)) {
    throw new MoxingError('BAD_ARGUMENT', `${what} must be one of ${CALC_DTYPE_IDS.join(', ')}, got "${value}"`);
  }
  return key;
}

/** Bytes one value takes in `dtype` (fractional for block formats). */
export function bytesPerValue(dtype: CalcDtype): number {
  return CALC_DTYPES[dtype].bitsPerValue / 8;
}
