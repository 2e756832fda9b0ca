/**
 * Text embeddings on llama.cpp through node-llama-cpp's embedding context, on a GGUF: llama.cpp pools as the
 * model's metadata says (the last token for a decoder without a pooling type) and node-llama-cpp adds the
 * beginning and end tokens the vocabulary asks for. The vectors are L2-normalised, as llama.cpp's own server
 * answers `/v1/embeddings`.
 */
import { MoxingError } from '../errors.js';
import { DEFAULT_LLAMA_CONTEXT, llamaThreads, loadGguf } from '../chat/llama-chat.js';
import { checkLength, type EmbeddingInput, type EmbeddingModel, type EmbeddingResult } from './embedding-model.js';
import { normalizeL2 } from './pooling.js';

type NodeLlamaCpp = typeof import('node-llama-cpp');
type LlamaModel = Awaited<ReturnType<Awaited<ReturnType<NodeLlamaCpp['getLlama']>>['loadModel']>>;
type LlamaEmbeddingContext = Awaited<ReturnType<LlamaModel['createEmbeddingContext']>>;
type Token = Parameters<LlamaEmbeddingContext['getEmbeddingFor']>[0] extends infer I ? (I extends readonly (infer T)[] ? T : never) : never;

export interface LlamaEmbeddingLoadOptions {
  /** @default DEFAULT_LLAMA_THREADS */
  threads?: number;
  /** @default the model's, capped at DEFAULT_LLAMA_CONTEXT */
  contextSize?: number;
}

export class LlamaEmbeddingModel implements EmbeddingModel {
  readonly engine = 'llama.cpp' as const;

  private constructor(
    readonly id: string,
    private readonly model: LlamaModel,
    private readonly context: LlamaEmbeddingContext,
    /** Tokens one input may have: node-llama-cpp refuses an input as long as the context. */
    readonly contextLength: number,
    private readonly vocabSize: number,
  ) {}

  get dimensions(): number {
    return this.model.embeddingVectorSize;
  }

  static async load(path: string, options: LlamaEmbeddingLoadOptions = {}, id = path): Promise<LlamaEmbeddingModel> {
    const threads = llamaThreads(options.threads);
    const { model } = await loadGguf(path);
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, DEFAULT_LLAMA_CONTEXT);
    const context = await model.createEmbeddingContext({ contextSize, threads });
    const vocab = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer?.ggml?.tokens?.length ?? 0;
    return new LlamaEmbeddingModel(id, model, context, contextSize - 1, vocab);
  }

  async embed(inputs: readonly EmbeddingInput[]): Promise<EmbeddingResult> {
    const resolved = inputs.map((input, i) => {
      if (typeof input !== 'string') {
        const bad = input.find((t) => !Number.isInteger(t) || t < 0 || t >= this.vocabSize);
        if (bad !== undefined) throw new MoxingError('BAD_ARGUMENT', `input ${i} has token id ${bad}, outside this model's vocabulary of ${this.vocabSize}`);
      }
      const value = typeof input === 'string' ? input : ([...input] as Token[]);
      checkLength(i, this.context.calculateInputLength(value), this.contextLength);
      return value;
    });
    const embeddings: Float32Array[] = [];
    let promptTokens = 0;
    // One at a time: the context has one sequence, and each input is evaluated from an empty cache.
    for (const input of resolved) {
      promptTokens += this.context.calculateInputLength(input);
      const { vector } = await this.context.getEmbeddingFor(input);
      embeddings.push(normalizeL2(Float32Array.from(vector)));
    }
    return { embeddings, promptTokens };
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
