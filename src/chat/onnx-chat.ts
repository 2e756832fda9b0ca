/**
 * `ChatModel` on ONNX Runtime: an onnx-community decoder-only export, its tokenizer and chat template, our own
 * generation loop (sampling, constraints, stop strings, streaming) and a prefix cache that lets the next turn of
 * a conversation skip the prefill of everything it shares with the previous one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MoxingError } from '../errors.js';
import { parseModelRef, resolveModel, type ModelLoadOptions, type Variant } from '../hub/index.js';
import { loadSession } from '../runtime/index.js';
import { GenerationRun, templateMessages, type ChatDelta, type ChatMessage, type ChatModel, type ChatOptions, type ChatResult } from './chat.js';
import { GrammarConstraint, type TokenConstraint } from './constraint.js';
import { decodeLoop, type Completion, type GenerateOptions } from './generate.js';
import { JsonGrammar } from './json-grammar.js';
import { loadRewrittenDecoder, type GraphRewrites } from './graph-rewrite.js';
import { OnnxDecoder, type PrefixCache, type TokenEmbedder } from './onnx-model.js';
import { decodeImages, imageUrls, DEFAULT_IMAGE_LIMITS, type ImageLimits } from './image-parts.js';
import { isVlmFolder, VisionParts, vlmFiles, VLM_CONFIG_FILES, VLM_OPTIONAL_FILES } from './vlm.js';
import { ChatTokenizer, readJsonFile } from './tokenizer.js';
import { parseToolCalls, toolCallGrammar, toolCallHoldBack, toolsFor, type ToolDefinition } from './tools.js';

/** Weight variants of the LLM exports: the hub's four, plus q4f16 (4-bit weights, float16 elsewhere). */
export type ChatVariant = Variant | 'q4f16';

export const CHAT_VARIANT_SUFFIXES: Readonly<Record<ChatVariant, string>> = Object.freeze({ fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4', q4f16: '_q4f16' });

export interface OnnxChatLoadOptions extends Omit<ModelLoadOptions, 'variant'> {
  /** @default 'fp32' */
  variant?: ChatVariant;
  /**
   * With q4/q4f16 weights, the MatMulNBits `accuracy_level` to run at (4: int8 activations, faster); false keeps
   * the file's. @default 4
   */
  q4AccuracyLevel?: number | false;
  /**
   * Load-time rewrites of the decoder graph (src/chat/graph-rewrite.ts): the LM head on the last position only,
   * the tied head without a transposed copy of the embedding, grouped-query attention without repeat_kv's copies,
   * rotary embeddings as ORT's RotaryEmbedding, the KV cache kept in the decoder's buffers rather than copied out of
   * the session at every step. They change
   * float summation order in places (logits move by float rounding); false loads the graph as it is.
   * @default true
   */
  graphRewrites?: boolean;
  /** Limits on the images of one request (vision-language models). @default DEFAULT_IMAGE_LIMITS */
  imageLimits?: Partial<ImageLimits>;
}

export const DEFAULT_Q4_ACCURACY_LEVEL = 4;

const CONFIG_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
const OPTIONAL_FILES = ['generation_config.json', 'special_tokens_map.json', 'chat_template.json', 'chat_template.jinja'] as const;

export function onnxChatFile(variant: ChatVariant): string {
  if (!Object.hasOwn(CHAT_VARIANT_SUFFIXES, variant)) throw new MoxingError('BAD_ARGUMENT', `variant must be one of ${Object.keys(CHAT_VARIANT_SUFFIXES).join(', ')}, got "${variant}"`);
  return `onnx/model${CHAT_VARIANT_SUFFIXES[variant]}.onnx`;
}

interface LlmConfig {
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
  eosIds: number[];
  padId: number | undefined;
}

/** The load-time graph rewrites `OnnxChatModel.load` applies (graphRewrites: true) to a model of this shape. */
export function chatGraphRewrites(config: Pick<LlmConfig, 'heads' | 'kvHeads' | 'contextLength'>): GraphRewrites {
  return { lastLogits: true, tiedHead: true, fuseRmsNorm: true, largestWeightFirst: true, groupedAttention: { heads: config.heads, kvHeads: config.kvHeads }, fuseRotary: { maxPositions: config.contextLength }, cacheOutside: true };
}

function readConfig(config: Record<string, unknown>, generation: Record<string, unknown> | null): LlmConfig {
  const text = (config.text_config as Record<string, unknown> | undefined) ?? config;
  const num = (key: string): number | undefined => (typeof text[key] === 'number' ? (text[key] as number) : undefined);
  const layers = num('num_hidden_layers');
  const heads = num('num_attention_heads');
  const hidden = num('hidden_size');
  if (layers === undefined || heads === undefined || hidden === undefined) throw new MoxingError('CONFIG_INVALID', 'config.json lacks num_hidden_layers, num_attention_heads or hidden_size; it is not a decoder-only language model config');
  const ids = (value: unknown): number[] => (Array.isArray(value) ? value.filter((v) => typeof v === 'number') : typeof value === 'number' ? [value] : []);
  const eosIds = [...ids(generation?.eos_token_id), ...ids(config.eos_token_id), ...ids(text.eos_token_id)];
  const pad = ids(generation?.pad_token_id ?? config.pad_token_id)[0];
  return {
    layers,
    heads,
    kvHeads: num('num_key_value_heads') ?? heads,
    headDim: num('head_dim') ?? hidden / heads,
    vocabSize: num('vocab_size') ?? 0,
    contextLength: num('max_position_embeddings') ?? 2048,
    eosIds: [...new Set(eosIds)],
    padId: pad,
  };
}

/** A prompt's ids, and for images the embedder that puts their features in place. */
interface Prompt {
  ids: number[];
  embed?: TokenEmbedder;
}

export class OnnxChatModel implements ChatModel {
  readonly engine = 'onnx' as const;
  private prefix: PrefixCache | undefined;

  private constructor(
    readonly id: string,
    readonly decoder: OnnxDecoder,
    readonly tokenizer: ChatTokenizer,
    readonly contextLength: number,
    /** The vision encoder and embeddings of a vision-language model (the three-file layout). */
    readonly visionParts?: VisionParts,
    private readonly imageLimits: Readonly<ImageLimits> = DEFAULT_IMAGE_LIMITS,
  ) {}

  get vision(): boolean {
    return this.visionParts !== undefined;
  }

  static async load(ref: string, options: OnnxChatLoadOptions = {}): Promise<OnnxChatModel> {
    const variant = options.variant ?? 'fp32';
    const file = onnxChatFile(variant);
    const suffix = CHAT_VARIANT_SUFFIXES[variant];
    const { dir, vlm } = await locate(ref, variant, file, options);
    const rawConfig = await readJsonFile(join(dir, 'config.json'), true);
    const config = readConfig(rawConfig, await readJsonFile(join(dir, 'generation_config.json'), false));
    const tokenizer = await ChatTokenizer.load(dir, config.eosIds);
    const path = join(dir, vlm ? vlmFiles(suffix).decoder : file);
    const level = options.q4AccuracyLevel ?? DEFAULT_Q4_ACCURACY_LEVEL;
    const q4Level = (variant === 'q4' || variant === 'q4f16') && level !== false ? level : undefined;
    const rewriteGraph = options.graphRewrites ?? true;
    const graph = rewriteGraph ? chatGraphRewrites(config) : {};
    // One streamed copy carries whatever changes (the accuracy level, the graph rewrites); none: the file as it is.
    const session = q4Level === undefined && !rewriteGraph ? await loadSession(path, options.runtime) : await loadRewrittenDecoder(path, { accuracyLevel: q4Level, ...graph }, options.runtime);
    const vision = vlm ? await VisionParts.load(dir, suffix, rawConfig, (t) => tokenizer.tokenizer.token_to_id(t), (id) => tokenizer.tokenizer.id_to_token(id), session, options.runtime) : undefined;
    const vocabSize = config.vocabSize || tokenizer.size;
    const shape = { layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim, vocabSize, maxPositions: config.contextLength };
    const decoder = new OnnxDecoder(session, shape, config.padId ?? tokenizer.eosIds[0] ?? 0, vision ? { embed: vision.embed, prefixBarrier: vision.imageTokenId } : {});
    return new OnnxChatModel(ref, decoder, tokenizer, config.contextLength, vision, { ...DEFAULT_IMAGE_LIMITS, ...options.imageLimits });
  }

  /** The prompt ids of a text conversation, as the template renders it. */
  promptIds(messages: readonly ChatMessage[], options: ChatOptions = {}): number[] {
    const tools = options.toolChoice === 'none' ? [] : (options.tools ?? []);
    return this.tokenizer.encode(this.tokenizer.render(templateMessages(messages, this.vision), { tools }));
  }

  /** The prompt of a conversation with its images: ids with the image tokens expanded, and their embedder. */
  async prompt(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<Prompt> {
    if (!this.visionParts) return { ids: this.promptIds(messages, options) };
    const tools = options.toolChoice === 'none' ? [] : (options.tools ?? []);
    const text = this.tokenizer.render(templateMessages(messages, true), { tools });
    const images = await decodeImages(messages, this.imageLimits);
    return this.visionParts.prompt(text, images, (t) => this.tokenizer.encode(t));
  }

  async countTokens(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<number> {
    if (this.visionParts && imageUrls(messages).length > 0) return (await this.prompt(messages, options)).ids.length;
    return this.promptIds(messages, options).length;
  }

  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): GenerationRun<ChatResult> {
    return new GenerationRun(() => this.runChat(messages, options));
  }

  generate(prompt: string, options: GenerateOptions = {}): GenerationRun<ChatResult> {
    return new GenerationRun(() => this.runPrompt({ ids: this.tokenizer.encode(prompt) }, options, undefined, [], false));
  }

  /** Greedy or sampled completions of several prompts at once (left-padded rows); each as it would be alone. */
  async generateBatch(prompts: readonly (readonly number[])[], options: GenerateOptions = {}): Promise<Completion[]> {
    const loop = decodeLoop(this.decoder.start(prompts), this.codec(), { ...options, maxTokens: this.budget(Math.max(...prompts.map((p) => p.length)), options.maxTokens), eosIds: this.tokenizer.eosIds });
    for (;;) {
      const next = await loop.next();
      if (next.done) return next.value;
    }
  }

  async dispose(): Promise<void> {
    this.prefix = undefined;
  }

  private codec() {
    return { decode: (ids: readonly number[]) => this.tokenizer.decode(ids) };
  }

  private budget(promptLength: number, maxTokens: number | undefined): number {
    const room = this.contextLength - promptLength;
    if (room <= 0) throw new MoxingError('BAD_ARGUMENT', `the prompt is ${promptLength} tokens and this model's context is ${this.contextLength}; shorten the conversation`);
    return Math.min(maxTokens ?? 256, room);
  }

  private async *runChat(messages: readonly ChatMessage[], options: ChatOptions): AsyncGenerator<ChatDelta, ChatResult> {
    const choice = options.toolChoice ?? 'auto';
    const tools = options.tools && options.tools.length > 0 ? toolsFor(options.tools, choice) : [];
    const prompt = await this.prompt(messages, options);
    let grammar: JsonGrammar | undefined;
    const format = options.responseFormat ?? { type: 'text' };
    if (tools.length > 0 && (choice === 'required' || typeof choice === 'object')) grammar = toolCallGrammar(tools, options.jsonLimits);
    else if (format.type === 'json_object') grammar = JsonGrammar.anyObject(options.jsonLimits);
    else if (format.type === 'json_schema') grammar = JsonGrammar.fromSchema(format.json_schema.schema ?? true, options.jsonLimits);
    const constraint = grammar ? new GrammarConstraint(grammar, this.tokenizer.tokenBytes()) : undefined;
    return yield* this.runPrompt(prompt, options, constraint, tools, true);
  }

  private async *runPrompt({ ids, embed }: Prompt, options: GenerateOptions, constraint: TokenConstraint | undefined, tools: readonly ToolDefinition[], keepPrefix: boolean): AsyncGenerator<ChatDelta, ChatResult> {
    if (ids.length === 0) throw new MoxingError('BAD_ARGUMENT', 'the prompt is empty');
    const state = this.decoder.start([ids], keepPrefix ? this.prefix : undefined, embed);
    const loop = decodeLoop(state, this.codec(), {
      ...options,
      maxTokens: this.budget(ids.length, options.maxTokens),
      eosIds: this.tokenizer.eosIds,
      constraints: [constraint],
      holdBack: tools.length > 0 ? toolCallHoldBack : undefined,
      tokenText: (id) => this.tokenizer.decode([id], false),
    });
    let completion: Completion;
    let streamed = 0;
    for (;;) {
      const next = await loop.next();
      if (next.done) {
        completion = next.value[0];
        break;
      }
      streamed += next.value.text.length;
      yield { ...(next.value.text ? { content: next.value.text } : {}), tokens: next.value.tokens };
    }
    if (keepPrefix) this.prefix = state.snapshot();
    const parsed = tools.length > 0 ? parseToolCalls(completion.text, tools) : { content: completion.text, calls: [] };
    if (parsed.calls.length > 0) {
      // Text before the call was streamed; what followed it (the call) was held back and becomes tool_calls.
      yield { toolCalls: parsed.calls, tokens: [] };
      return { ...completion, finishReason: 'tool_calls', message: { role: 'assistant', content: parsed.content, tool_calls: parsed.calls } };
    }
    // Held-back text that turned out not to be a call is content after all.
    if (streamed < completion.text.length) yield { content: completion.text.slice(streamed), tokens: [] };
    return { ...completion, message: { role: 'assistant', content: completion.text } };
  }
}

/** The model's folder (downloading what a hub model needs) and whether it is a three-file VLM. */
async function locate(ref: string, variant: ChatVariant, file: string, options: OnnxChatLoadOptions): Promise<{ dir: string; vlm: boolean }> {
  const suffix = CHAT_VARIANT_SUFFIXES[variant];
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'local') {
    const dir = parsed.dir;
    if (existsSync(join(dir, file))) return { dir, vlm: false };
    if (isVlmFolder(dir, suffix)) return { dir, vlm: true };
    throw new MoxingError('MODEL_INVALID', `the model folder ${dir} has neither ${file} nor the vision-language files ${Object.values(vlmFiles(suffix)).join(', ')}; pick another --variant or export the model to ONNX`);
  }
  const pullArgs = variant === 'fp32' ? undefined : `--variant ${variant}`;
  const configDir = await resolveModel(parsed, { ...options.hub, files: [...CONFIG_FILES], optionalFiles: [...OPTIONAL_FILES], pullArgs });
  const vlm = (await readJsonFile(join(configDir, 'config.json'), true)).vision_config !== undefined;
  const files = vlm ? [...CONFIG_FILES, ...VLM_CONFIG_FILES, ...Object.values(vlmFiles(suffix))] : [...CONFIG_FILES, file];
  const dir = await resolveModel(parsed, { ...options.hub, files, optionalFiles: [...OPTIONAL_FILES, ...(vlm ? VLM_OPTIONAL_FILES : [])], pullArgs });
  return { dir, vlm };
}
