/**
 * Text embeddings on ONNX Runtime from the BERT-like exports transformers.js runs for `feature-extraction`
 * (all-MiniLM-L6-v2, bge-small, …): `input_ids`, `attention_mask` and (when the graph has it) `token_type_ids`
 * [batch, length] in, `last_hidden_state` [batch, length, dim] out, pooled and normalised as the model's
 * sentence-transformers files say. Inputs are run in right-padded batches; padded keys are masked, so a batch
 * gives each input's vector as it would be alone.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { parseModelRef, resolveModel, type ModelLoadOptions } from '../hub/index.js';
import { int64, loadSession, releaseSession } from '../runtime/index.js';
import { onnxChatFile, type ChatVariant } from '../chat/onnx-chat.js';
import { readJsonFile } from '../chat/tokenizer.js';
import { checkLength, type EmbeddingInput, type EmbeddingModel, type EmbeddingResult } from './embedding-model.js';
import { POOLING_FILES, pool, readPooling, type Pooling } from './pooling.js';

export interface OnnxEmbeddingLoadOptions extends Omit<ModelLoadOptions, 'variant'> {
  /** @default 'fp32' */
  variant?: ChatVariant;
  /** Inputs run together in one batch at most. @default 16 */
  batchSize?: number;
}

export const DEFAULT_EMBEDDING_BATCH = 16;

export class OnnxEmbeddingModel implements EmbeddingModel {
  readonly engine = 'onnx' as const;

  private constructor(
    readonly id: string,
    private readonly session: InferenceSession,
    readonly tokenizer: Tokenizer,
    readonly pooling: Pooling,
    readonly dimensions: number,
    readonly contextLength: number,
    private readonly vocabSize: number,
    private readonly padId: number,
    private readonly batchSize: number,
  ) {}

  static async load(ref: string, options: OnnxEmbeddingLoadOptions = {}): Promise<OnnxEmbeddingModel> {
    const variant = options.variant ?? 'fp32';
    const file = onnxChatFile(variant);
    const parsed = parseModelRef(ref);
    let dir: string;
    if (parsed.kind === 'local') {
      dir = parsed.dir;
      if (!existsSync(join(dir, file))) throw new MoxingError('MODEL_INVALID', `the model folder ${dir} has no ${file}; pick another --variant or export the model to ONNX`);
    } else {
      dir = await resolveModel(parsed, { ...options.hub, files: ['config.json', 'tokenizer.json', file], optionalFiles: ['tokenizer_config.json', 'special_tokens_map.json', ...POOLING_FILES], pullArgs: variant === 'fp32' ? undefined : `--variant ${variant}` });
    }
    const config = await readJsonFile(join(dir, 'config.json'), true);
    const hidden = config.hidden_size;
    if (typeof hidden !== 'number') throw new MoxingError('CONFIG_INVALID', 'config.json lacks hidden_size; it is not an encoder (BERT-like) model config');
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(await readJsonFile(join(dir, 'tokenizer.json'), true), (await readJsonFile(join(dir, 'tokenizer_config.json'), false)) ?? {});
    } catch (cause) {
      throw new MoxingError('TOKENIZER_INVALID', `tokenizer.json in ${dir} could not be read: ${(cause as Error).message}`, { cause });
    }
    const pooling = await readPooling(dir);
    const session = await loadSession(join(dir, file), options.runtime);
    const known = new Set(['input_ids', 'attention_mask', 'token_type_ids']);
    if (!session.inputNames.includes('input_ids') || !session.inputNames.includes('attention_mask') || session.inputNames.some((n) => !known.has(n)) || !session.outputNames.includes('last_hidden_state')) {
      await releaseSession(session);
      throw new MoxingError('MODEL_INVALID', `${file} is not a feature-extraction export: it must take input_ids, attention_mask (and token_type_ids) only and give last_hidden_state`);
    }
    const maxPositions = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : 512;
    const vocabSize = typeof config.vocab_size === 'number' ? config.vocab_size : tokenizer.get_vocab().size;
    const padId = typeof config.pad_token_id === 'number' ? config.pad_token_id : 0;
    return new OnnxEmbeddingModel(ref, session, tokenizer, pooling, hidden, maxPositions, vocabSize, padId, options.batchSize ?? DEFAULT_EMBEDDING_BATCH);
  }

  /** Token ids of `text`, with the special tokens the tokenizer's post-processor adds ([CLS] … [SEP]). */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  async embed(inputs: readonly EmbeddingInput[]): Promise<EmbeddingResult> {
    const ids = inputs.map((input, i) => {
      const tokens = typeof input === 'string' ? this.tokenize(input) : [...input];
      checkLength(i, tokens.length, this.contextLength);
      const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= this.vocabSize);
      if (bad !== undefined) throw new MoxingError('BAD_ARGUMENT', `input ${i} has token id ${bad}, outside this model's vocabulary of ${this.vocabSize}`);
      return tokens;
    });
    const embeddings: Float32Array[] = [];
    for (let start = 0; start < ids.length; start += this.batchSize) embeddings.push(...(await this.runBatch(ids.slice(start, start + this.batchSize))));
    return { embeddings, promptTokens: ids.reduce((n, t) => n + t.length, 0) };
  }

  async dispose(): Promise<void> {
    await releaseSession(this.session);
  }

  private async runBatch(rows: readonly number[][]): Promise<Float32Array[]> {
    const length = Math.max(...rows.map((r) => r.length));
    const ids: number[] = [];
    const mask: number[] = [];
    for (const row of rows) {
      for (let t = 0; t < length; t++) {
        ids.push(t < row.length ? row[t] : this.padId);
        mask.push(t < row.length ? 1 : 0);
      }
    }
    const dims = [rows.length, length];
    const feeds: Record<string, ReturnType<typeof int64>> = { input_ids: int64(ids, dims), attention_mask: int64(mask, dims) };
    if (this.session.inputNames.includes('token_type_ids')) feeds.token_type_ids = int64(new Array<number>(ids.length).fill(0), dims);
    const output = await this.session.run(feeds);
    const hidden = output.last_hidden_state;
    return pool(hidden.data as Float32Array, mask, rows.length, length, this.dimensions, this.pooling);
  }
}
