/** quantize: q8/q4 copies of float32 ONNX exports, in TypeScript over the ONNX protobuf. */
export { quantizeModelDir, quantizeFile, quantizeModel, quantizedPath, fp32Files } from './quantize.js';
export type { QuantizedFile, QuantizeDirOptions } from './quantize.js';
export { DEFAULT_QUANTIZE, QUANTIZE_TARGETS, QUANTIZE_METHODS, resolveQuantizeOptions } from './options.js';
export type { QuantizeOptions, QuantizeTarget, ResolvedQuantize } from './options.js';
export { QUANTIZED_OPS } from './rewrite.js';
export type { QuantizeMethod, RewriteStats } from './rewrite.js';
export { quantizeBlockwise, dequantizeBlockwise, quantizePerColumnInt8, quantizePerRowInt8, kMajor, nMajor } from './weights.js';
export type { BlockQuantized, WeightView } from './weights.js';
