/**
 * Hugging Face `config.json` → Architecture, for the model types whose parameter layout we know exactly.
 * Defaults are the ones the transformers config classes use when a key is absent.
 */
import { MoxingError, quoteInput } from '../errors.js';
import type { Architecture, DecoderArchitecture, VitArchitecture, WhisperArchitecture } from './architecture.js';

export const SUPPORTED_MODEL_TYPES = Object.freeze(['llama', 'mistral', 'mixtral', 'qwen2', 'gpt2', 'gpt_neox', 'bloom', 'whisper', 'dinov2'] as const);
export type SupportedModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

type Json = Record<string, unknown>;

/** A config value for an error message: short, and never a deep structure walked in full. */
function shown(value: unknown): string {
  if (typeof value === 'string') return quoteInput(value, 40);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
}

class Reader {
  constructor(private readonly config: Json, private readonly source: string) {}

  fail(message: string): never {
    throw new MoxingError('CONFIG_INVALID', `${this.source}: ${message}`);
  }

  /** A positive whole number under `keys` (the first one present), or `fallback` when none is. */
  int(keys: string | readonly string[], fallback?: number): number {
    const names = typeof keys === 'string' ? [keys] : keys;
    const key = names.find((k) => this.config[k] !== undefined && this.config[k] !== null);
    if (key === undefined) {
      if (fallback !== undefined) return fallback;
      this.fail(`"${names[0]}" is missing; a ${String(this.config.model_type)} config needs it`);
    }
    const value = this.config[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > 1e9) {
      this.fail(`"${key}" must be a positive whole number, got ${shown(value)}`);
    }
    return value;
  }

  number(key: string, fallback: number): number {
    const value = this.config[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(`"${key}" must be a positive number, got ${shown(value)}`);
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.config[key] ?? fallback;
    if (typeof value !== 'boolean') this.fail(`"${key}" must be true or false, got ${shown(value)}`);
    return value;
  }
}

function llamaLike(r: Reader, name: string, type: 'llama' | 'mistral' | 'mixtral' | 'qwen2'): DecoderArchitecture {
  const hiddenSize = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const kvHeads = r.int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) r.fail(`num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads})`);
  const attentionBias = type === 'qwen2' ? 'qkv' : type === 'llama' && r.bool('attention_bias', false) ? 'all' : 'none';
  const arch: DecoderArchitecture = {
    kind: 'decoder', name, vocabSize: r.int('vocab_size'), hiddenSize, layers: r.int('num_hidden_layers'), heads, kvHeads,
    headDim: r.int('head_dim', Math.floor(hiddenSize / heads)), intermediateSize: r.int('intermediate_size'),
    gatedMlp: true, norm: 'rmsnorm', normsPerLayer: 2, attentionBias,
    mlpBias: type === 'llama' && r.bool('mlp_bias', false), position: 'rotary',
    maxPositions: r.int('max_position_embeddings', 2048), tiedEmbeddings: r.bool('tie_word_embeddings', false), embeddingNorm: false,
  };
  if (type !== 'mixtral') return arch;
  const count = r.int('num_local_experts', 8);
  const perToken = r.int('num_experts_per_tok', 2);
  if (perToken > count) r.fail(`num_experts_per_tok (${perToken}) exceeds num_local_experts (${count})`);
  return { ...arch, experts: { count, perToken } };
}

function gpt2(r: Reader, name: string): DecoderArchitecture {
  const d = r.int(['n_embd', 'hidden_size']);
  const heads = r.int(['n_head', 'num_attention_heads']);
  return {
    kind: 'decoder', name, vocabSize: r.int('vocab_size'), hiddenSize: d, layers: r.int(['n_layer', 'num_hidden_layers']), heads,
    kvHeads: heads, headDim: d / heads, intermediateSize: r.int('n_inner', 4 * d), gatedMlp: false, norm: 'layernorm',
    normsPerLayer: 2, attentionBias: 'all', mlpBias: true, position: 'learned', maxPositions: r.int(['n_positions', 'n_ctx'], 1024),
    // GPT2LMHeadModel always ties its head to the token embeddings.
    tiedEmbeddings: true, embeddingNorm: false,
  };
}

function gptNeox(r: Reader, name: string): DecoderArchitecture {
  const d = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const bias = r.bool('attention_bias', true);
  return {
    kind: 'decoder', name, vocabSize: r.int('vocab_size'), hiddenSize: d, layers: r.int('num_hidden_layers'), heads, kvHeads: heads,
    headDim: d / heads, intermediateSize: r.int('intermediate_size', 4 * d), gatedMlp: false, norm: 'layernorm',
    // The parallel residual still has two LayerNorms per layer.
    normsPerLayer: 2, attentionBias: bias ? 'all' : 'none', mlpBias: true, position: 'rotary',
    maxPositions: r.int('max_position_embeddings', 2048), tiedEmbeddings: r.bool('tie_word_embeddings', false), embeddingNorm: false,
  };
}

function bloom(r: Reader, name: string): DecoderArchitecture {
  const d = r.int(['hidden_size', 'n_embed']);
  const heads = r.int(['n_head', 'num_attention_heads']);
  return {
    kind: 'decoder', name, vocabSize: r.int('vocab_size'), hiddenSize: d, layers: r.int(['n_layer', 'num_hidden_layers']), heads,
    kvHeads: heads, headDim: d / heads, intermediateSize: 4 * d, gatedMlp: false, norm: 'layernorm', normsPerLayer: 2,
    attentionBias: 'all', mlpBias: true, position: 'alibi', maxPositions: r.int('seq_length', 2048), tiedEmbeddings: true, embeddingNorm: true,
  };
}

function whisper(r: Reader, name: string): WhisperArchitecture {
  const dModel = r.int('d_model');
  return {
    kind: 'whisper', name, dModel, encoderLayers: r.int('encoder_layers'), decoderLayers: r.int('decoder_layers'),
    encoderHeads: r.int('encoder_attention_heads'), decoderHeads: r.int('decoder_attention_heads'),
    encoderFfn: r.int('encoder_ffn_dim'), decoderFfn: r.int('decoder_ffn_dim'), vocabSize: r.int('vocab_size'),
    melBins: r.int('num_mel_bins', 80), sourcePositions: r.int('max_source_positions', 1500), targetPositions: r.int('max_target_positions', 448),
  };
}

function dinov2(r: Reader, name: string): VitArchitecture {
  return {
    kind: 'vit', name, hiddenSize: r.int('hidden_size'), layers: r.int('num_hidden_layers'), heads: r.int('num_attention_heads'),
    mlpRatio: r.number('mlp_ratio', 4), swiglu: r.bool('use_swiglu_ffn', false), patchSize: r.int('patch_size', 16),
    imageSize: r.int('image_size', 224), channels: r.int('num_channels', 3), qkvBias: r.bool('qkv_bias', true),
    layerScale: true,
  };
}

/**
 * Reads a parsed config.json. `source` names it in errors (a path or hub id); `name` defaults to
 * `_name_or_path` or the source.
 */
export function architectureFromHfConfig(config: unknown, source = 'config.json', name?: string): Architecture {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new MoxingError('CONFIG_INVALID', `${source}: a config.json must hold a JSON object`);
  }
  const c = config as Json;
  const type = c.model_type;
  if (typeof type !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new MoxingError('CONFIG_INVALID', `${source}: model_type ${shown(type ?? null)} is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const r = new Reader(c, source);
  const label = (name ?? (typeof c._name_or_path === 'string' && c._name_or_path !== '' ? c._name_or_path : source)).slice(0, 200);
  const arch = build(r, label, type as SupportedModelType);
  checkShapes(r, arch);
  return arch;
}

function build(r: Reader, name: string, type: SupportedModelType): Architecture {
  switch (type) {
    case 'llama':
    case 'mistral':
    case 'mixtral':
    case 'qwen2':
      return llamaLike(r, name, type);
    case 'gpt2':
      return gpt2(r, name);
    case 'gpt_neox':
      return gptNeox(r, name);
    case 'bloom':
      return bloom(r, name);
    case 'whisper':
      return whisper(r, name);
    case 'dinov2':
      return dinov2(r, name);
  }
}

function checkShapes(r: Reader, a: Architecture): void {
  const [d, heads] = a.kind === 'whisper' ? [a.dModel, a.decoderHeads] : [a.hiddenSize, a.heads];
  if (a.kind !== 'decoder' || a.headDim * a.heads === d) {
    if (d % heads !== 0) r.fail(`the hidden size ${d} is not divisible by the ${heads} attention heads`);
  }
  if (a.kind === 'whisper' && a.dModel % a.encoderHeads !== 0) r.fail(`d_model ${a.dModel} is not divisible by encoder_attention_heads ${a.encoderHeads}`);
  if (a.kind === 'vit' && a.patchSize > a.imageSize) r.fail(`patch_size ${a.patchSize} exceeds image_size ${a.imageSize}`);
}
