/**
 * One `EmbeddingModel` interface over the engines: text (or token ids) in, one vector per input out, with the
 * token count that cost. `loadEmbeddingModel` picks the engine by the files, as `loadChatModel` does.
 */
import { MoxingError } from '../errors.js';
import type { Engine } from '../chat/chat.js';

/** A text, or token ids fed as given. */
export type EmbeddingInput = string | readonly number[];

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  embeddings: Float32Array[];
  /** Tokens of all inputs together (special tokens included). */
  promptTokens: number;
}

export interface EmbeddingModel {
  readonly id: string;
  readonly engine: Engine;
  /** Length of each vector. */
  readonly dimensions: number;
  /** Tokens one input may have. */
  readonly contextLength: number;
  embed(inputs: readonly EmbeddingInput[]): Promise<EmbeddingResult>;
  dispose(): Promise<void>;
}

/** Refuses an input over the model's length, naming it. */
export function checkLength(index: number, tokens: number, contextLength: number): void {
  if (tokens > contextLength) throw new MoxingError('BAD_ARGUMENT', `input ${index} is ${tokens} tokens and this model takes at most ${contextLength}; shorten it`);
  if (tokens === 0) throw new MoxingError('BAD_ARGUMENT', `input ${index} is empty`);
}
