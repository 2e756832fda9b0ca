/**
 * Weight variants and the file-name suffixes the real onnx-community / Xenova exports use
 * (transformers.js `utils/dtypes.js` keeps the same table): `onnx/encoder_model_quantized.onnx` is q8.
 */
import { MoxingError } from '../errors.js';

export const VARIANT_SUFFIXES = Object.freeze({
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  q4: '_q4',
} as const);

export type Variant = keyof typeof VARIANT_SUFFIXES;

export const VARIANTS: readonly Variant[] = Object.freeze(Object.keys(VARIANT_SUFFIXES) as Variant[]);

/** @default 'fp32' — the reference weights; q8 is the usual speed/size trade-off on CPU. */
export const DEFAULT_VARIANT: Variant = 'fp32';

export function isVariant(value: string): value is Variant {
  return Object.hasOwn(VARIANT_SUFFIXES, value);
}

export function parseVariant(value: string): Variant {
  if (!isVariant(value)) {
    throw new MoxingError('BAD_ARGUMENT', `variant must be one of ${VARIANTS.join(', ')}, got "${value}"`);
  }
  return value;
}

/** `onnxFile('onnx/encoder_model', 'q8')` → `onnx/encoder_model_quantized.onnx`. */
export function onnxFile(stem: string, variant: Variant): string {
  return `${stem}${VARIANT_SUFFIXES[variant]}.onnx`;
}

/** The variants whose file for `stem` appears in `paths` (a repo listing or a folder's files). */
export function variantsPresent(stem: string, paths: ReadonlySet<string>): Variant[] {
  return VARIANTS.filter((v) => paths.has(onnxFile(stem, v)));
}
