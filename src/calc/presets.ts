/**
 * Architectures of well-known models, copied from their published configs and papers. Each entry says where
 * its numbers come from; counts derived from them are checked against published totals in the tests.
 */
import type { Architecture } from './architecture.js';

// LLaMA (Touvron et al. 2023, Table 2 and the released params.json): pre-RMSNorm, SwiGLU, rotary, no
// biases, untied output, 32000-token vocabulary, 2048 context.
const LLAMA = {
  kind: 'decoder', vocabSize: 32000, gatedMlp: true, norm: 'rmsnorm', normsPerLayer: 2, attentionBias: 'none',
  mlpBias: false, position: 'rotary', maxPositions: 2048, tiedEmbeddings: false, embeddingNorm: false,
} as const;

// GPT-2/GPT-3 block: pre-LayerNorm with biases everywhere, GELU MLP of 4d, learned positions, tied output.
const GPT = {
  kind: 'decoder', gatedMlp: false, norm: 'layernorm', normsPerLayer: 2, attentionBias: 'all', mlpBias: true,
  position: 'learned', tiedEmbeddings: true, embeddingNorm: false,
} as const;

// Whisper (Radford et al. 2022, Table 1; the Hugging Face configs): 80 mel bins, 1500 encoder frames,
// 448 decoder positions, 51865 tokens (51866 and 128 bins from large-v3 on).
const WHISPER = { kind: 'whisper', vocabSize: 51865, melBins: 80, sourcePositions: 1500, targetPositions: 448 } as const;

// DINOv2 (Oquab et al. 2023; facebook/dinov2-* configs): ViT/14 at 518 px, LayerScale, qkv bias.
const DINOV2 = { kind: 'vit', mlpRatio: 4, swiglu: false, patchSize: 14, imageSize: 518, channels: 3, qkvBias: true, layerScale: true } as const;

export const MODEL_PRESETS = {
  'gpt2': { ...GPT, name: 'GPT-2 124M', vocabSize: 50257, hiddenSize: 768, layers: 12, heads: 12, kvHeads: 12, headDim: 64, intermediateSize: 3072, maxPositions: 1024 },
  // GPT-3 (Brown et al. 2020, Table 2.1): the GPT-2 vocabulary and a 2048 context.
  'gpt3-175b': { ...GPT, name: 'GPT-3 175B', vocabSize: 50257, hiddenSize: 12288, layers: 96, heads: 96, kvHeads: 96, headDim: 128, intermediateSize: 49152, maxPositions: 2048 },
  'llama-7b': { ...LLAMA, name: 'LLaMA 7B', hiddenSize: 4096, layers: 32, heads: 32, kvHeads: 32, headDim: 128, intermediateSize: 11008 },
  'llama-13b': { ...LLAMA, name: 'LLaMA 13B', hiddenSize: 5120, layers: 40, heads: 40, kvHeads: 40, headDim: 128, intermediateSize: 13824 },
  'llama-33b': { ...LLAMA, name: 'LLaMA 33B', hiddenSize: 6656, layers: 60, heads: 52, kvHeads: 52, headDim: 128, intermediateSize: 17920 },
  'llama-65b': { ...LLAMA, name: 'LLaMA 65B', hiddenSize: 8192, layers: 80, heads: 64, kvHeads: 64, headDim: 128, intermediateSize: 22016 },
  // Llama 2 70B (Touvron et al. 2023b): grouped-query attention with 8 KV heads, 4096 context.
  'llama2-70b': { ...LLAMA, name: 'Llama 2 70B', hiddenSize: 8192, layers: 80, heads: 64, kvHeads: 8, headDim: 128, intermediateSize: 28672, maxPositions: 4096 },
  'mistral-7b': { ...LLAMA, name: 'Mistral 7B', hiddenSize: 4096, layers: 32, heads: 32, kvHeads: 8, headDim: 128, intermediateSize: 14336, maxPositions: 32768 },
  'mixtral-8x7b': { ...LLAMA, name: 'Mixtral 8x7B', hiddenSize: 4096, layers: 32, heads: 32, kvHeads: 8, headDim: 128, intermediateSize: 14336, maxPositions: 32768, experts: { count: 8, perToken: 2 } },
  // PaLM (Chowdhery et al. 2022, Table 1 and section 2): parallel attention+MLP blocks sharing one
  // LayerNorm, multi-query attention with 48 query heads of 256, SwiGLU with d_ff = 4d, no biases in dense
  // kernels or layer norms, rotary, a 256k vocabulary shared between input and output.
  'palm-540b': {
    kind: 'decoder', name: 'PaLM 540B', vocabSize: 256000, hiddenSize: 18432, layers: 118, heads: 48, kvHeads: 1, headDim: 256,
    intermediateSize: 73728, gatedMlp: true, norm: 'layernorm-no-bias', normsPerLayer: 1, attentionBias: 'none', mlpBias: false,
    position: 'rotary', maxPositions: 2048, tiedEmbeddings: true, embeddingNorm: false,
  },
  // GLM-130B (Zeng et al. 2022; THUDM/GLM-130B configs/model_glm_130b.sh): 70 layers of 12288, 96 heads,
  // GeGLU with inner size 32768, post-LN (DeepNorm) with biases, rotary, a 150528-token tied vocabulary.
  // The config sums to 128.7B parameters: the model's name rounds up.
  'glm-130b': {
    kind: 'decoder', name: 'GLM-130B', vocabSize: 150528, hiddenSize: 12288, layers: 70, heads: 96, kvHeads: 96, headDim: 128,
    intermediateSize: 32768, gatedMlp: true, norm: 'layernorm', normsPerLayer: 2, attentionBias: 'all', mlpBias: true,
    position: 'rotary', maxPositions: 2048, tiedEmbeddings: true, embeddingNorm: false,
  },
  // BLOOM (bigscience/bloom config.json): ALiBi instead of positions, LayerNorm on the embeddings, tied.
  'bloom-176b': {
    ...GPT, name: 'BLOOM 176B', vocabSize: 250880, hiddenSize: 14336, layers: 70, heads: 112, kvHeads: 112, headDim: 128,
    intermediateSize: 57344, position: 'alibi', maxPositions: 2048, embeddingNorm: true,
  },
  'whisper-tiny': { ...WHISPER, name: 'Whisper tiny', dModel: 384, encoderLayers: 4, decoderLayers: 4, encoderHeads: 6, decoderHeads: 6, encoderFfn: 1536, decoderFfn: 1536 },
  'whisper-base': { ...WHISPER, name: 'Whisper base', dModel: 512, encoderLayers: 6, decoderLayers: 6, encoderHeads: 8, decoderHeads: 8, encoderFfn: 2048, decoderFfn: 2048 },
  'whisper-small': { ...WHISPER, name: 'Whisper small', dModel: 768, encoderLayers: 12, decoderLayers: 12, encoderHeads: 12, decoderHeads: 12, encoderFfn: 3072, decoderFfn: 3072 },
  'whisper-medium': { ...WHISPER, name: 'Whisper medium', dModel: 1024, encoderLayers: 24, decoderLayers: 24, encoderHeads: 16, decoderHeads: 16, encoderFfn: 4096, decoderFfn: 4096 },
  'whisper-large-v2': { ...WHISPER, name: 'Whisper large-v2', dModel: 1280, encoderLayers: 32, decoderLayers: 32, encoderHeads: 20, decoderHeads: 20, encoderFfn: 5120, decoderFfn: 5120 },
  'whisper-large-v3': { ...WHISPER, name: 'Whisper large-v3', vocabSize: 51866, melBins: 128, dModel: 1280, encoderLayers: 32, decoderLayers: 32, encoderHeads: 20, decoderHeads: 20, encoderFfn: 5120, decoderFfn: 5120 },
  // large-v3-turbo: large-v3 with 4 decoder layers instead of 32.
  'whisper-large-v3-turbo': { ...WHISPER, name: 'Whisper large-v3-turbo', vocabSize: 51866, melBins: 128, dModel: 1280, encoderLayers: 32, decoderLayers: 4, encoderHeads: 20, decoderHeads: 20, encoderFfn: 5120, decoderFfn: 5120 },
  'dinov2-small': { ...DINOV2, name: 'DINOv2 ViT-S/14', hiddenSize: 384, layers: 12, heads: 6 },
  'dinov2-base': { ...DINOV2, name: 'DINOv2 ViT-B/14', hiddenSize: 768, layers: 12, heads: 12 },
  'dinov2-large': { ...DINOV2, name: 'DINOv2 ViT-L/14', hiddenSize: 1024, layers: 24, heads: 16 },
  'dinov2-giant': { ...DINOV2, name: 'DINOv2 ViT-g/14', hiddenSize: 1536, layers: 40, heads: 24, swiglu: true },
} as const satisfies Record<string, Architecture>;

export type ModelPresetId = keyof typeof MODEL_PRESETS;

export const MODEL_PRESET_IDS: readonly ModelPresetId[] = Object.freeze(Object.keys(MODEL_PRESETS) as ModelPresetId[]);

/** Other names people use for the same presets. */
export const MODEL_PRESET_ALIASES: Readonly<Record<string, ModelPresetId>> = Object.freeze({
  'gpt3': 'gpt3-175b', 'gpt-3': 'gpt3-175b', 'llama-30b': 'llama-33b', 'llama-2-70b': 'llama2-70b',
  'whisper-large': 'whisper-large-v2', 'palm': 'palm-540b', 'bloom': 'bloom-176b',
  'dinov2-s': 'dinov2-small', 'dinov2-b': 'dinov2-base', 'dinov2-l': 'dinov2-large', 'dinov2-g': 'dinov2-giant',
});

export function modelPreset(name: string): Architecture | undefined {
  const key = name.trim().toLowerCase();
  const id = Object.hasOwn(MODEL_PRESETS, key) ? (key as ModelPresetId) : MODEL_PRESET_ALIASES[key];
  return id ? MODEL_PRESETS[id] : undefined;
}
