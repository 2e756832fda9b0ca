/**
 * `ChatModel` on llama.cpp through node-llama-cpp (an optional dependency: imported only when a GGUF model is
 * loaded, with a clear error when it is not installed). Text only: 3.21.1 has no multimodal support.
 *
 * The chat layer is the ONNX engine's: the GGUF's own `tokenizer.chat_template` rendered by @huggingface/jinja,
 * tools parsed the same way, stop strings and streaming by the same tracker. Sampling maps onto llama.cpp's
 * sampler (temperature, top-k, top-p, min-p, seed, repeat/presence/frequency penalties over the generated
 * tokens, logit bias); JSON output uses llama.cpp's grammar from the JSON schema; logprobs are llama.cpp's
 * probabilities of the sampled distribution. One context sequence per
 * model keeps the previous conversation's KV, so the next turn evaluates only what it adds.
 */
import { existsSync } from 'node:fs';
import { MoxingError } from '../errors.js';
import { resolveGguf, type ModelRef } from '../hub/index.js';
import { GenerationRun, templateMessages, type ChatDelta, type ChatMessage, type ChatModel, type ChatOptions, type ChatResult } from './chat.js';
import { DEFAULT_GENERATE, TextTracker, type GenerateOptions, type TokenLogprob } from './generate.js';
import { JsonGrammar } from './json-grammar.js';
import type { ChatLoadOptions } from './load.js';
import { checkSampling } from './sampling.js';
import { ChatTemplate } from './tokenizer.js';
import { parseToolCalls, toolCallHoldBack, toolsFor, type ToolDefinition } from './tools.js';

type NodeLlamaCpp = typeof import('node-llama-cpp');
type Llama = Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;
type LlamaModel = Awaited<ReturnType<Llama['loadModel']>>;
type LlamaContext = Awaited<ReturnType<LlamaModel['createContext']>>;
type LlamaSequence = ReturnType<LlamaContext['getSequence']>;
/** node-llama-cpp's branded token id. */
type Token = LlamaSequence['contextTokens'][number];
const asTokens = (ids: readonly number[]): Token[] => ids as Token[];

/**
 * Threads llama.cpp decodes with. On this project's 2-core VM ggml's thread pool collapses at 2 threads
 * (bench/chat.ts measures it: see README "Chat"), so the default is 1.
 */
export const DEFAULT_LLAMA_THREADS = 1;
/** Context tokens when the model's own is larger (the KV cache is allocated up front). */
export const DEFAULT_LLAMA_CONTEXT = 4096;

let binding: Promise<{ module: NodeLlamaCpp; llama: Llama }> | undefined;

/** node-llama-cpp and its CPU backend, once per process. */
export async function llamaBinding(): Promise<{ module: NodeLlamaCpp; llama: Llama }> {
  binding ??= (async () => {
    let module: NodeLlamaCpp;
    try {
      module = await import('node-llama-cpp');
    } catch (cause) {
      throw new MoxingError('DEVICE_UNAVAILABLE', 'the llama.cpp engine needs the optional package node-llama-cpp: install it with `npm install node-llama-cpp@3.21.1`, or use an ONNX model', { cause });
    }
    const llama = await module.getLlama({ gpu: false, build: 'never', logLevel: module.LlamaLogLevel.error });
    return { module, llama };
  })();
  binding.catch(() => (binding = undefined));
  return binding;
}

/** llama.cpp's thread count: the one given, checked, or DEFAULT_LLAMA_THREADS. */
export function llamaThreads(threads: number | undefined): number {
  const n = threads ?? DEFAULT_LLAMA_THREADS;
  if (!Number.isInteger(n) || n < 1) throw new MoxingError('BAD_ARGUMENT', `threads must be a whole number ≥ 1, got ${n}`);
  return n;
}

/** The GGUF file at `path` loaded by llama.cpp, or a MODEL_INVALID error naming it. */
export async function loadGguf(path: string): Promise<{ module: NodeLlamaCpp; llama: Llama; model: LlamaModel }> {
  if (!existsSync(path)) throw new MoxingError('MODEL_INVALID', `no GGUF file at ${path}`);
  const { module, llama } = await llamaBinding();
  try {
    return { module, llama, model: await llama.loadModel({ modelPath: path }) };
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `llama.cpp could not load ${path}: ${(cause as Error).message}`, { cause });
  }
}

export class LlamaChatModel implements ChatModel {
  readonly engine = 'llama.cpp' as const;
  readonly vision = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly id: string,
    private readonly module: NodeLlamaCpp,
    private readonly llama: Llama,
    readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequence: LlamaSequence,
    private readonly template: ChatTemplate | undefined,
    readonly threads: number,
  ) {}

  get contextLength(): number {
    return this.context.contextSize;
  }

  static async load(path: string, options: ChatLoadOptions = {}, id = path): Promise<LlamaChatModel> {
    if (options.variant !== undefined && options.variant !== 'fp32') throw new MoxingError('BAD_ARGUMENT', '--variant picks ONNX weights; a GGUF file carries its own quantization (pick the file instead)');
    const threads = llamaThreads(options.threads);
    const { module, llama, model } = await loadGguf(path);
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, DEFAULT_LLAMA_CONTEXT);
    const context = await model.createContext({ contextSize, threads, sequences: 1 });
    const meta = model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } };
    const templateText = typeof meta.tokenizer?.chat_template === 'string' ? meta.tokenizer.chat_template : undefined;
    const text = (token: Token | null) => (token === null ? '' : model.detokenize([token], true));
    const template = templateText === undefined ? undefined : new ChatTemplate(templateText, { bos_token: text(model.tokens.bos), eos_token: text(model.tokens.eos) });
    return new LlamaChatModel(id, module, llama, model, context, context.getSequence(), template, threads);
  }

  /** The GGUF file `options.file` selects in the hub repo `ref`, fetched through the hub client (cache, offline, HF_ENDPOINT). */
  static async loadFromHub(ref: ModelRef, options: ChatLoadOptions = {}, id = ref.ref): Promise<LlamaChatModel> {
    return LlamaChatModel.load(await resolveGguf(ref, options.file, options.hub), options, id);
  }

  promptIds(messages: readonly ChatMessage[], options: ChatOptions = {}): number[] {
    if (!this.template) throw new MoxingError('TOKENIZER_INVALID', 'this GGUF has no tokenizer.chat_template; use raw completion (generate) instead');
    const tools = options.toolChoice === 'none' ? [] : (options.tools ?? []);
    return [...this.model.tokenize(this.template.render(templateMessages(messages, false), { tools }), true)];
  }

  async countTokens(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<number> {
    return this.promptIds(messages, options).length;
  }

  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): GenerationRun<ChatResult> {
    return new GenerationRun(() => this.serialized(async () => {
      const choice = options.toolChoice ?? 'auto';
      const tools = options.tools && options.tools.length > 0 ? toolsFor(options.tools, choice) : [];
      const ids = this.promptIds(messages, options);
      return { ids, tools, grammar: await this.grammar(options, tools, choice) };
    }, (prepared) => this.run(prepared.ids, options, prepared.tools, prepared.grammar)));
  }

  generate(prompt: string, options: GenerateOptions = {}): GenerationRun<ChatResult> {
    return new GenerationRun(() => this.serialized(async () => [...this.model.tokenize(prompt, false)], (ids) => this.run(ids, options, [], undefined)));
  }

  async dispose(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.context.dispose();
    await this.model.dispose();
  }

  /** One generation at a time on the model's single sequence; the next waits for the previous to end. */
  private async *serialized<P>(prepare: () => Promise<P>, body: (prepared: P) => AsyncGenerator<ChatDelta, ChatResult>): AsyncGenerator<ChatDelta, ChatResult> {
    const prepared = await prepare(); // bad requests fail before waiting
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous.catch(() => undefined);
      return yield* body(prepared);
    } finally {
      release();
    }
  }

  private async grammar(options: ChatOptions, tools: readonly ToolDefinition[], choice: ChatOptions['toolChoice']) {
    const format = options.responseFormat ?? { type: 'text' };
    let schema: unknown;
    if (tools.length > 0 && (choice === 'required' || typeof choice === 'object')) {
      // llama.cpp's grammar holds the call object; the parser takes a bare {"name", "arguments"} object as a call.
      schema = { type: 'object', properties: { name: { enum: tools.map((t) => t.function.name) }, arguments: tools.length === 1 ? (tools[0].function.parameters ?? { type: 'object' }) : { type: 'object' } }, required: ['name', 'arguments'] };
    } else if (format.type === 'json_object') {
      return new this.module.LlamaGrammarEvaluationState({ model: this.model, grammar: await this.llama.getGrammarFor('json') });
    } else if (format.type === 'json_schema') {
      schema = format.json_schema.schema ?? {};
    } else return undefined;
    JsonGrammar.fromSchema(schema); // the same keywords are refused on both engines
    try {
      const grammar = await this.llama.createGrammarForJsonSchema(schema as never);
      return new this.module.LlamaGrammarEvaluationState({ model: this.model, grammar });
    } catch (cause) {
      throw new MoxingError('BAD_ARGUMENT', `response schema: llama.cpp cannot build a grammar for it: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * A generated token's log-probability and the most likely alternatives, from the distribution llama.cpp sampled
   * it from: after the sampler's temperature, top-k/top-p/min-p, penalties and bias, so at temperature 0 the
   * model's own (as the ONNX engine reports at any temperature).
   */
  private logprob(token: Token, probabilities: Map<Token, number> | undefined, top: number): TokenLogprob {
    const log = (p: number | undefined) => Math.log(Math.max(p ?? 0, Number.MIN_VALUE)); // a JSON number, never -Infinity
    const text = (t: Token) => this.model.detokenize([t], true);
    const best = [...(probabilities ?? new Map<Token, number>()).entries()].slice(0, top);
    return { token, text: text(token), logprob: log(probabilities?.get(token)), top: best.map(([t, p]) => ({ token: t, text: text(t), logprob: log(p) })) };
  }

  private async *run(ids: number[], options: GenerateOptions, tools: readonly ToolDefinition[], grammarState: unknown): AsyncGenerator<ChatDelta, ChatResult> {
    checkSampling(options);
    const topLogprobs = options.topLogprobs ?? DEFAULT_GENERATE.topLogprobs;
    if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > 20) throw new MoxingError('BAD_ARGUMENT', `topLogprobs must be a whole number from 0 to 20, got ${topLogprobs}`);
    if (ids.length === 0) throw new MoxingError('BAD_ARGUMENT', 'the prompt is empty');
    const room = this.contextLength - ids.length;
    if (room <= 0) throw new MoxingError('BAD_ARGUMENT', `the prompt is ${ids.length} tokens and this model's context is ${this.contextLength}; shorten the conversation`);
    const maxTokens = Math.min(options.maxTokens ?? DEFAULT_GENERATE.maxTokens, room);
    // Keep the KV of the tokens the previous request shares with this one (at least one token is evaluated).
    const previous = this.sequence.contextTokens;
    let shared = 0;
    while (shared < previous.length && shared < ids.length - 1 && previous[shared] === ids[shared]) shared++;
    if (shared < this.sequence.nextTokenIndex) await this.sequence.eraseContextTokenRanges([{ start: shared, end: this.sequence.nextTokenIndex }]);
    const tracker = new TextTracker({ decode: (t) => this.model.detokenize(asTokens(t)) }, (options.stop ?? []).filter((s) => s.length > 0), tools.length > 0 ? toolCallHoldBack : () => 0);
    const generated: number[] = [];
    const bias = new this.module.TokenBias(this.model.tokenizer);
    for (const [id, value] of Object.entries(options.logitBias ?? {})) bias.set(Number(id) as Token, value <= -100 ? 'never' : { logit: value });
    const temperature = options.temperature ?? 1;
    const started = performance.now();
    let firstToken = 0;
    let streamed = 0;
    const evaluateOptions = {
      temperature,
      ...(options.topK !== undefined ? { topK: options.topK } : {}),
      ...(options.topP !== undefined ? { topP: options.topP } : {}),
      ...(options.minP !== undefined ? { minP: options.minP } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      repeatPenalty: {
        punishTokens: () => asTokens(generated),
        penalty: options.repetitionPenalty ?? 1,
        presencePenalty: options.presencePenalty ?? 0,
        frequencyPenalty: options.frequencyPenalty ?? 0,
      },
      tokenBias: bias,
      ...(grammarState ? { grammarEvaluationState: grammarState as never } : {}),
    };
    const evaluation = this.sequence.evaluateWithMetadata(asTokens(ids.slice(shared)), { probabilities: options.logprobs ?? false }, evaluateOptions);
    const logprobs: TokenLogprob[] = [];
    try {
      for await (const step of evaluation) {
        const token = step.token;
        if (firstToken === 0) firstToken = performance.now();
        options.signal?.throwIfAborted();
        if (options.logprobs) logprobs.push(this.logprob(token, (step as { probabilities?: Map<Token, number> }).probabilities, topLogprobs));
        generated.push(token);
        tracker.push(token, maxTokens);
        const text = tracker.take();
        streamed += text.length;
        yield { ...(text ? { content: text } : {}), tokens: [...tracker.pending] };
        tracker.pending = [];
        if (tracker.finish !== undefined) break;
      }
    } finally {
      await evaluation.return(undefined);
    }
    const finish = tracker.finish ?? 'stop';
    const completion = {
      tokens: tracker.tokens,
      text: tracker.text,
      promptTokens: ids.length,
      cachedTokens: shared,
      ...(options.logprobs ? { logprobs: logprobs.slice(0, tracker.tokens.length) } : {}),
      timings: { prefillMs: (firstToken || performance.now()) - started, decodeMs: performance.now() - (firstToken || performance.now()) },
    };
    const parsed = tools.length > 0 ? parseToolCalls(completion.text, tools) : { content: completion.text, calls: [] };
    if (parsed.calls.length > 0) {
      yield { toolCalls: parsed.calls, tokens: [] };
      return { ...completion, finishReason: 'tool_calls', message: { role: 'assistant', content: parsed.content, tool_calls: parsed.calls } };
    }
    if (streamed < completion.text.length) yield { content: completion.text.slice(streamed), tokens: [] };
    return { ...completion, finishReason: finish, message: { role: 'assistant', content: completion.text } };
  }
}
