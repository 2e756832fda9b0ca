/**
 * Exact parameter counts with a per-component breakdown, and the summary the cost math works from.
 * Counts follow the reference implementations (Hugging Face modeling code, the papers' descriptions);
 * frozen tables that the implementations register as parameters (Whisper's encoder positions) count too.
 */
import type { Architecture, DecoderArchitecture, NormKind, VitArchitecture, WhisperArchitecture } from './architecture.js';

export interface ParameterComponent {
  readonly name: string;
  readonly parameters: number;
}

export interface ModelSummary {
  readonly name: string;
  readonly kind: Architecture['kind'];
  /** Every stored parameter. */
  readonly parameters: number;
  /** Parameters one token passes through: all of them for dense models, the routed experts only for MoE. */
  readonly activeParameters: number;
  /** Token and position tables, looked up rather than multiplied (Kaplan et al. leave them out of N). */
  readonly embeddingParameters: number;
  readonly breakdown: readonly ParameterComponent[];
  /** Parameters run once per generated token (the decoder); 0 for encoder-only models. */
  readonly decodeParameters: number;
  /** Parameters run once per input before decoding (Whisper's encoder, a ViT); 0 for decoder-only models. */
  readonly encoderParameters: number;
  /** Tokens the encoder sees per input: 1500 frames for Whisper, 1 + patches for a ViT. */
  readonly encoderTokens: number;
  /** Transformer layers, all of them, for training activations. */
  readonly layers: number;
  readonly hiddenSize: number;
  readonly heads: number;
  /** Layers that keep a self-attention KV cache while decoding (0 for encoder-only models). */
  readonly kvLayers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Cached positions every sequence holds besides its own tokens (Whisper's cross-attention on 1500 frames). */
  readonly fixedKvTokens: number;
  /** Longest sequence the model handles. */
  readonly maxContext: number;
  readonly vocabSize: number;
  /** Mixture of experts: experts per layer and experts per token. */
  readonly experts?: { readonly count: number; readonly perToken: number; readonly parameters: number };
}

function normParams(kind: NormKind, d: number): number {
  return kind === 'layernorm' ? 2 * d : d;
}

function linear(inputs: number, outputs: number, bias: boolean): number {
  return inputs * outputs + (bias ? outputs : 0);
}

function sum(components: readonly ParameterComponent[]): number {
  return components.reduce((total, c) => total + c.parameters, 0);
}

function decoderSummary(a: DecoderArchitecture): ModelSummary {
  const d = a.hiddenSize;
  const qDim = a.heads * a.headDim;
  const kvDim = a.kvHeads * a.headDim;
  const qkvBias = a.attentionBias !== 'none';
  const attention = linear(d, qDim, qkvBias) + 2 * linear(d, kvDim, qkvBias) + linear(qDim, d, a.attentionBias === 'all');
  const up = a.gatedMlp ? 2 : 1;
  const mlp = linear(d, up * a.intermediateSize, a.mlpBias) + linear(a.intermediateSize, d, a.mlpBias);
  const embeddings = a.vocabSize * d;
  const positions = a.position === 'learned' ? a.maxPositions * d : 0;
  const components: ParameterComponent[] = [
    { name: 'token embeddings', parameters: embeddings },
    { name: 'position embeddings', parameters: positions },
    { name: 'embedding norm', parameters: a.embeddingNorm ? normParams(a.norm, d) : 0 },
    { name: 'attention', parameters: a.layers * attention },
  ];
  let expertParams = 0;
  if (a.experts) {
    expertParams = a.layers * a.experts.count * mlp;
    components.push({ name: 'experts (mlp)', parameters: expertParams });
    components.push({ name: 'router', parameters: a.layers * d * a.experts.count });
  } else {
    components.push({ name: 'mlp', parameters: a.layers * mlp });
  }
  components.push({ name: 'norms', parameters: (a.layers * a.normsPerLayer + 1) * normParams(a.norm, d) });
  components.push({ name: 'lm head', parameters: a.tiedEmbeddings ? 0 : embeddings });
  const parameters = sum(components);
  const inactive = a.experts ? expertParams * (1 - a.experts.perToken / a.experts.count) : 0;
  return {
    name: a.name, kind: a.kind, parameters, activeParameters: parameters - inactive,
    embeddingParameters: embeddings + positions, breakdown: components.filter((c) => c.parameters > 0),
    decodeParameters: parameters - inactive, encoderParameters: 0, encoderTokens: 0,
    layers: a.layers, hiddenSize: d, heads: a.heads, kvLayers: a.layers, kvHeads: a.kvHeads, headDim: a.headDim,
    fixedKvTokens: 0, maxContext: a.maxPositions, vocabSize: a.vocabSize,
    ...(a.experts ? { experts: { count: a.experts.count, perToken: a.experts.perToken, parameters: expertParams } } : {}),
  };
}

function whisperSummary(a: WhisperArchitecture): ModelSummary {
  const d = a.dModel;
  const ln = 2 * d;
  // Whisper's k_proj has no bias; q, v and out do.
  const attention = 4 * d * d + 3 * d;
  const mlp = (ffn: number) => linear(d, ffn, true) + linear(ffn, d, true);
  const encoder: ParameterComponent[] = [
    { name: 'encoder conv front end', parameters: linear(a.melBins * 3, d, true) + linear(d * 3, d, true) },
    // openai/whisper keeps the sinusoids in a buffer; Hugging Face stores them as a frozen parameter.
    { name: 'encoder positions', parameters: a.sourcePositions * d },
    { name: 'encoder attention', parameters: a.encoderLayers * attention },
    { name: 'encoder mlp', parameters: a.encoderLayers * mlp(a.encoderFfn) },
    { name: 'encoder norms', parameters: (2 * a.encoderLayers + 1) * ln },
  ];
  const decoder: ParameterComponent[] = [
    { name: 'decoder token embeddings (tied output)', parameters: a.vocabSize * d },
    { name: 'decoder positions', parameters: a.targetPositions * d },
    { name: 'decoder self-attention', parameters: a.decoderLayers * attention },
    { name: 'decoder cross-attention', parameters: a.decoderLayers * attention },
    { name: 'decoder mlp', parameters: a.decoderLayers * mlp(a.decoderFfn) },
    { name: 'decoder norms', parameters: (3 * a.decoderLayers + 1) * ln },
  ];
  const parameters = sum(encoder) + sum(decoder);
  return {
    name: a.name, kind: a.kind, parameters, activeParameters: parameters,
    embeddingParameters: (a.vocabSize + a.targetPositions + a.sourcePositions) * d, breakdown: [...encoder, ...decoder],
    decodeParameters: sum(decoder), encoderParameters: sum(encoder), encoderTokens: a.sourcePositions,
    layers: a.encoderLayers + a.decoderLayers, hiddenSize: d, heads: a.decoderHeads,
    kvLayers: a.decoderLayers, kvHeads: a.decoderHeads, headDim: d / a.decoderHeads,
    fixedKvTokens: a.sourcePositions, maxContext: a.targetPositions, vocabSize: a.vocabSize,
  };
}

/** DINOv2's SwiGLU hidden width, as its reference code rounds it. */
export function vitMlpWidth(a: VitArchitecture): number {
  const hidden = Math.floor(a.hiddenSize * a.mlpRatio);
  return a.swiglu ? Math.floor((Math.floor((hidden * 2) / 3) + 7) / 8) * 8 : hidden;
}

function vitSummary(a: VitArchitecture): ModelSummary {
  const d = a.hiddenSize;
  const patches = Math.floor(a.imageSize / a.patchSize) ** 2;
  const width = vitMlpWidth(a);
  const mlp = a.swiglu ? linear(d, 2 * width, true) + linear(width, d, true) : linear(d, width, true) + linear(width, d, true);
  const components: ParameterComponent[] = [
    { name: 'patch embedding', parameters: linear(a.channels * a.patchSize * a.patchSize, d, true) },
    // The class token and the mask token used by iBOT masking during training.
    { name: 'cls and mask tokens', parameters: 2 * d },
    { name: 'position embeddings', parameters: (patches + 1) * d },
    { name: 'attention', parameters: a.layers * (linear(d, 3 * d, a.qkvBias) + linear(d, d, true)) },
    { name: 'mlp', parameters: a.layers * mlp },
    { name: 'layer scale', parameters: a.layerScale ? a.layers * 2 * d : 0 },
    { name: 'norms', parameters: (2 * a.layers + 1) * 2 * d },
  ];
  const parameters = sum(components);
  return {
    name: a.name, kind: a.kind, parameters, activeParameters: parameters, embeddingParameters: (patches + 3) * d,
    breakdown: components.filter((c) => c.parameters > 0), decodeParameters: 0, encoderParameters: parameters,
    encoderTokens: patches + 1, layers: a.layers, hiddenSize: d, heads: a.heads, kvLayers: 0, kvHeads: a.heads,
    headDim: d / a.heads, fixedKvTokens: 0, maxContext: patches + 1, vocabSize: 0,
  };
}

/** Counts every parameter of `architecture`, by component, and the sizes the cost math needs. */
export function countParameters(architecture: Architecture): ModelSummary {
  switch (architecture.kind) {
    case 'decoder':
      return decoderSummary(architecture);
    case 'whisper':
      return whisperSummary(architecture);
    case 'vit':
      return vitSummary(architecture);
  }
}
