/**
 * OpenAI's `POST /v1/embeddings` over the text-embedding models this server was started with (`--model` and
 * `--chat-model` references: a BERT-like ONNX export, or a GGUF through llama.cpp): `input` as a string, strings,
 * token ids or arrays of token ids; `encoding_format` float or base64 (little-endian float32, as OpenAI's
 * clients decode it); `dimensions` only when it is the model's own; usage in tokens. Errors are OpenAI's shape.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EmbeddingInput, EmbeddingLoadOptions, EmbeddingModel } from '../embeddings/index.js';
import { ModelAllowList, publicModelName } from './models.js';
import { loadedOnce } from './loaded-once.js';
import { installOpenAiErrors, parseBody, ParamError } from './openai-shape.js';

export interface EmbeddingsPluginOptions {
  /** Models requests may name, as given at start-up. @default [] */
  models?: readonly string[];
  /** How the models load (variant, runtime, engine, threads). */
  modelOptions?: EmbeddingLoadOptions;
}

/** Inputs one request may carry, as OpenAI allows. */
export const MAX_EMBEDDING_INPUTS = 2048;

const tokenId = z.number().int().min(0).max(2 ** 31 - 1);
const text = z.string().min(1, 'must not be empty').max(1_000_000);
const Body = z.strictObject({
  model: z.string().min(1).max(200),
  input: z.union([text, z.array(text).min(1).max(MAX_EMBEDDING_INPUTS), z.array(tokenId).min(1).max(100_000), z.array(z.array(tokenId).min(1).max(100_000)).min(1).max(MAX_EMBEDDING_INPUTS)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).max(100_000).nullish(),
  user: z.string().max(500).optional(),
});

export async function embeddingsPlugin(app: FastifyInstance, options: EmbeddingsPluginOptions): Promise<void> {
  const allowList = new ModelAllowList({ served: options.models ?? [] });
  const loadModel = loadedOnce(app, (ref): Promise<EmbeddingModel> => import('../embeddings/load.js').then(({ loadEmbeddingModel }) => loadEmbeddingModel(ref, options.modelOptions)));
  const load = (ref: string, name: string): Promise<EmbeddingModel> =>
    loadModel(ref).catch((cause: unknown) => {
      // A served Whisper or chat-only export is not an embedding model: say so, not "the model is broken".
      const code = (cause as { code?: string }).code;
      if (code === 'MODEL_INVALID' || code === 'CONFIG_INVALID' || code === 'TOKENIZER_INVALID') throw new ParamError('model', `model ${JSON.stringify(publicModelName(name))} cannot make text embeddings (it is not a sentence-embedding export or a GGUF)`);
      throw cause;
    });
  installOpenAiErrors(app);

  app.post('/v1/embeddings', async (request) => {
    const body = parseBody(Body, request.body);
    const ref = allowList.resolve(body.model).ref;
    const inputs = toInputs(body.input);
    const { embeddings, promptTokens } = await app.work(request, async () => {
      const model = await load(ref, body.model);
      if (body.dimensions != null && body.dimensions !== model.dimensions) throw new ParamError('dimensions', `this model's vectors have ${model.dimensions} dimensions and cannot be shortened; leave dimensions out`);
      return model.embed(inputs);
    });
    const base64 = body.encoding_format === 'base64';
    return {
      object: 'list',
      data: embeddings.map((vector, index) => ({ object: 'embedding', index, embedding: base64 ? /* little-endian float32, as OpenAI's clients decode it */ Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') : Array.from(vector) })),
      model: publicModelName(body.model),
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });
}

/** The request's inputs as a list: one string, strings, one token array, or token arrays. */
function toInputs(input: z.infer<typeof Body>['input']): EmbeddingInput[] {
  if (typeof input === 'string') return [input];
  if (input.length > 0 && typeof input[0] === 'number') return [input as number[]];
  return input as EmbeddingInput[];
}
