/**
 * The dimensions of a Whisper export, read from its `config.json` (openai's `ModelDimensions`, under the
 * Hugging Face names), plus what `generation_config.json` adds (alignment heads for word timing).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MoxingError } from '../../errors.js';

export interface WhisperDims {
  /** Mel bins of the input features (80, or 128 for large-v3). */
  readonly nMels: number;
  /** Encoder output positions per 30 s window (1500: one per 20 ms). */
  readonly nAudioCtx: number;
  /** Decoder context length in tokens (448). */
  readonly nTextCtx: number;
  readonly dModel: number;
  readonly decoderLayers: number;
  readonly decoderHeads: number;
  /** dModel / decoderHeads: the last axis of every KV tensor. */
  readonly headDim: number;
  readonly vocabSize: number;
  /** openai: `n_vocab >= 51865`. */
  readonly isMultilingual: boolean;
  /** openai: `n_vocab - 51765 - int(is_multilingual)`: 99, or 100 for large-v3. */
  readonly numLanguages: number;
  /** [layer, head] pairs whose cross-attention follows the alignment (generation_config), or undefined. */
  readonly alignmentHeads: readonly (readonly [number, number])[] | undefined;
}

function readJson(dir: string, name: string, required: boolean): Record<string, unknown> | undefined {
  const path = join(dir, name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if (!required) return undefined;
    throw new MoxingError('MODEL_INVALID', `the Whisper model folder ${dir} has no ${name}; re-download the model (moxing pull)`, { cause });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new MoxingError('CONFIG_INVALID', `${path} is not a valid JSON object: ${(cause as Error).message}`, { cause });
  }
}

function positiveInt(config: Record<string, unknown>, key: string, source: string): number {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new MoxingError('CONFIG_INVALID', `${source}: "${key}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Parses the two config objects of a Whisper export into its dimensions. */
export function whisperDims(config: Record<string, unknown>, generation: Record<string, unknown> | undefined, source = 'config.json'): WhisperDims {
  if (config.model_type !== undefined && config.model_type !== 'whisper') {
    throw new MoxingError('CONFIG_INVALID', `${source}: model_type is "${String(config.model_type)}", expected "whisper"`);
  }
  const dModel = positiveInt(config, 'd_model', source);
  const decoderHeads = positiveInt(config, 'decoder_attention_heads', source);
  if (dModel % decoderHeads !== 0) {
    throw new MoxingError('CONFIG_INVALID', `${source}: d_model ${dModel} is not a multiple of decoder_attention_heads ${decoderHeads}`);
  }
  const vocabSize = positiveInt(config, 'vocab_size', source);
  const isMultilingual = vocabSize >= 51865;
  let alignmentHeads: [number, number][] | undefined;
  const heads = generation?.alignment_heads;
  if (Array.isArray(heads) && heads.every((h) => Array.isArray(h) && h.length === 2 && h.every(Number.isInteger))) {
    alignmentHeads = heads.map((h) => [h[0] as number, h[1] as number]);
  }
  return Object.freeze({
    nMels: positiveInt(config, 'num_mel_bins', source),
    nAudioCtx: positiveInt(config, 'max_source_positions', source),
    nTextCtx: positiveInt(config, 'max_target_positions', source),
    dModel,
    decoderLayers: positiveInt(config, 'decoder_layers', source),
    decoderHeads,
    headDim: dModel / decoderHeads,
    vocabSize,
    isMultilingual,
    numLanguages: vocabSize - 51765 - (isMultilingual ? 1 : 0),
    alignmentHeads,
  });
}

/** Reads `config.json` (required) and `generation_config.json` (optional) from a model folder. */
export function loadWhisperDims(dir: string): WhisperDims {
  const config = readJson(dir, 'config.json', true) as Record<string, unknown>;
  const generation = readJson(dir, 'generation_config.json', false);
  return whisperDims(config, generation, join(dir, 'config.json'));
}
