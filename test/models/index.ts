/** Seeded random-weight test models: the ONNX builder and the Whisper generator. */
export {
  Rng,
  GraphBuilder,
  attr,
  tensor,
  valueInfo,
  modelProto,
  encodeModel,
  saveModel,
  decodeModel,
  DEFAULT_OPSET,
  MASK_MIN,
  normalQuantile,
} from './onnx-builder.js';
export type { Attr, DType, Dim, GraphProto, ModelProto, TensorProto, GraphBuilderOptions, ModelOptions } from './onnx-builder.js';
export { Layers, WeightBank, DEFAULT_INIT, gelu, splitHeads, mergeHeads, dimOf, toVector, causalMask, sliceRows } from './layers.js';
export type { InitScales } from './layers.js';
export {
  ensureWhisperModel,
  ensureWhisperModelSync,
  TERSE_WHISPER,
  FIXTURE_TWIN,
  writeWhisperModel,
  whisperSpecHash,
  vocabularyLayout,
  TINY_WHISPER,
  BASE_WHISPER,
  TEST_MODELS_DIR,
  BENCH_MODELS_DIR,
  WHISPER_ONNX_FILES,
} from './whisper.js';
export type { WhisperModelSpec, WhisperOnnxFile, EnsureOptions } from './whisper.js';
export { specialLayout, SHARED_TOKENIZER_DIR } from './whisper-files.js';
export type { SpecialLayout, VocabularyLayout } from './whisper-files.js';
export { N_FRAMES, N_AUDIO_CTX, sinusoids } from './whisper-graphs.js';
export { ensureLlmModel, writeLlmModel, llmSpecHash, TINY_LLM, CHATML_TOOLS_TEMPLATE, LLM_SPECIALS } from './llm.js';
export type { LlmSpec } from './llm.js';
export { ensureVlmModel, writeVlmModel, TINY_LLAVA, TINY_SMOLVLM, SMOLVLM_256M_SHAPED } from './vlm.js';
export type { VlmSpec, VlmKind } from './vlm.js';
