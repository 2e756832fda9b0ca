/**
 * `loadEmbeddingModel(ref, options)`: a `.gguf` file (a folder holding one, or a hub repo with a GGUF selector)
 * goes to llama.cpp's embedding context, a BERT-like ONNX export to ONNX Runtime; `engine` overrides the choice.
 */
import { MoxingError } from '../errors.js';
import { chooseEngine } from '../chat/load.js';
import { parseModelRef, resolveGguf } from '../hub/index.js';
import type { Engine } from '../chat/chat.js';
import type { EmbeddingModel } from './embedding-model.js';
import { OnnxEmbeddingModel, type OnnxEmbeddingLoadOptions } from './onnx-embeddings.js';
import type { LlamaEmbeddingLoadOptions } from './llama-embeddings.js';

export interface EmbeddingLoadOptions extends OnnxEmbeddingLoadOptions, LlamaEmbeddingLoadOptions {
  /** @default chosen by the files: .gguf → 'llama.cpp', else 'onnx' */
  engine?: Engine;
  /** The GGUF file in a folder or hub repo holding several (see ChatLoadOptions.file). */
  file?: string;
}

export async function loadEmbeddingModel(ref: string, options: EmbeddingLoadOptions = {}): Promise<EmbeddingModel> {
  const { base, file, gguf, engine } = chooseEngine(ref, options);
  if (engine === 'onnx') return OnnxEmbeddingModel.load(base, options);
  let path = gguf;
  if (!path) {
    const parsed = parseModelRef(base);
    if (parsed.kind === 'local') throw new MoxingError('MODEL_INVALID', `the folder ${base} has no .gguf file for the llama.cpp engine`);
    path = await resolveGguf(parsed, file, options.hub);
  }
  const { LlamaEmbeddingModel } = await import('./llama-embeddings.js');
  return LlamaEmbeddingModel.load(path, options, ref);
}
