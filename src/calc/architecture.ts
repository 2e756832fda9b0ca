/**
 * Plain-data descriptions of the three shapes of transformer the calculators know: decoder-only language
 * models (dense or mixture-of-experts), Whisper's encoder-decoder, and DINOv2's vision encoder.
 * Everything here is what a config.json says; counts and costs are derived elsewhere.
 */

/** `layernorm` has a scale and a bias, `layernorm-no-bias` (PaLM) and `rmsnorm` a scale only. */
export type NormKind = 'layernorm' | 'layernorm-no-bias' | 'rmsnorm';
/** Only `learned` positions are parameters; rotary, ALiBi and relative schemes add none here. */
export type PositionKind = 'learned' | 'rotary' | 'alibi' | 'none';

export interface DecoderArchitecture {
  readonly kind: 'decoder';
  readonly name: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  /** Key/value heads: equal to `heads` for multi-head, 1 for multi-query, between for grouped-query. */
  readonly kvHeads: number;
  readonly headDim: number;
  /** Width of one MLP (one expert in a mixture-of-experts). */
  readonly intermediateSize: number;
  /** Gated MLPs (SwiGLU, GeGLU) have three matrices instead of two. */
  readonly gatedMlp: boolean;
  readonly norm: NormKind;
  /** 2 for the usual pre/post-LN block; 1 for PaLM's parallel block that shares one norm. */
  readonly normsPerLayer: 1 | 2;
  /** Which attention projections carry a bias: none, q/k/v only (Qwen2), or q/k/v and the output. */
  readonly attentionBias: 'none' | 'qkv' | 'all';
  readonly mlpBias: boolean;
  readonly position: PositionKind;
  /** Longest context the model was trained for (the learned position table size where there is one). */
  readonly maxPositions: number;
  /** The output projection reuses the token embedding matrix. */
  readonly tiedEmbeddings: boolean;
  /** BLOOM normalizes the embeddings before the first block. */
  readonly embeddingNorm: boolean;
  /** Mixture of experts: every layer's MLP is `count` experts, `perToken` of them used per token. */
  readonly experts?: { readonly count: number; readonly perToken: number };
}

export interface WhisperArchitecture {
  readonly kind: 'whisper';
  readonly name: string;
  readonly dModel: number;
  readonly encoderLayers: number;
  readonly decoderLayers: number;
  readonly encoderHeads: number;
  readonly decoderHeads: number;
  readonly encoderFfn: number;
  readonly decoderFfn: number;
  readonly vocabSize: number;
  readonly melBins: number;
  /** Encoder frames after the stride-2 convolution: 1500 for 30 s. */
  readonly sourcePositions: number;
  /** Decoder context: 448 tokens. */
  readonly targetPositions: number;
}

export interface VitArchitecture {
  readonly kind: 'vit';
  readonly name: string;
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly mlpRatio: number;
  /** DINOv2 giant's SwiGLU MLP, sized as the reference code does: (⌊4d·2/3⌋ + 7) rounded down to a multiple of 8. */
  readonly swiglu: boolean;
  readonly patchSize: number;
  /** The size the position table was trained for (518 for DINOv2: 37 × 37 patches of 14). */
  readonly imageSize: number;
  readonly channels: number;
  readonly qkvBias: boolean;
  readonly layerScale: boolean;
}

export type Architecture = DecoderArchitecture | WhisperArchitecture | VitArchitecture;
