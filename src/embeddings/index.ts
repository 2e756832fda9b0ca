/** embeddings/: text embeddings (sentence vectors) on ONNX Runtime (BERT-like exports) and llama.cpp (GGUF). */
export { loadEmbeddingModel } from './load.js';
export type { EmbeddingLoadOptions } from './load.js';
export type { EmbeddingModel, EmbeddingInput, EmbeddingResult } from './embedding-model.js';
export { OnnxEmbeddingModel, DEFAULT_EMBEDDING_BATCH } from './onnx-embeddings.js';
export type { OnnxEmbeddingLoadOptions } from './onnx-embeddings.js';
export type { LlamaEmbeddingLoadOptions } from './llama-embeddings.js';
export { DEFAULT_POOLING, normalizeL2, pool, readPooling } from './pooling.js';
export type { Pooling, PoolingMode } from './pooling.js';
