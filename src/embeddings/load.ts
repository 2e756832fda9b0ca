/**
 * `loadEmbeddingModel(ref, options)`: a `.gguf` file (or a folder holding one) goes to llama.cpp's embedding
 * context, a BERT-like ONNX export to ONNX Runtime; `engine` overrides the choice.
 */
import { basename } from 'node:path';
import { MoxingError } from '../errors.js';
import { ENGINES, localGguf } from '../chat/load.js';
import type { Engine } from '../chat/chat.js';
import type { EmbeddingModel } from './embedding-model.js';
import { OnnxEmbeddingModel, type OnnxEmbeddingLoadOptions } from './onnx-embeddings.js';
import type { LlamaEmbeddingLoadOptions } from './llama-embeddings.js';

export interface EmbeddingLoadOptions extends OnnxEmbeddingLoadOptions, LlamaEmbeddingLoadOptions {
  /** @default chosen by the files: .gguf → 'llama.cpp', else 'onnx' */
  engine?: Engine;
  /** The GGUF file in a folder holding several. */
  file?: string;
}

export async function loadEmbeddingModel(ref: string, options: EmbeddingLoadOptions = {}): Promise<EmbeddingModel> {
  if (options.engine !== undefined && !ENGINES.includes(options.engine)) throw new MoxingError('BAD_ARGUMENT', `engine must be one of ${ENGINES.join(', ')}, got "${options.engine}"`);
  const gguf = localGguf(ref, options.file);
  const engine = options.engine ?? (gguf ? 'llama.cpp' : 'onnx');
  if (engine === 'onnx') {
    if (gguf && ref === gguf) throw new MoxingError('BAD_ARGUMENT', `${basename(ref)} is a GGUF file: use the llama.cpp engine`);
    return OnnxEmbeddingModel.load(ref, options);
  }
  if (!gguf) throw new MoxingError('MODEL_INVALID', `${ref} has no .gguf file for the llama.cpp engine`);
  const { LlamaEmbeddingModel } = await import('./llama-embeddings.js');
  return LlamaEmbeddingModel.load(gguf, options, ref);
}
