/**
 * One `ChatModel` interface over the engines, and the chat layer every engine shares: OpenAI-shaped messages
 * through the model's chat template, tools and tool choice, response formats (JSON object / JSON schema), and
 * runs that can be awaited for the whole result or streamed as deltas.
 */
import { MoxingError } from '../errors.js';
import type { Completion, FinishReason, GenerateOptions } from './generate.js';
import type { JsonLimits } from './json-grammar.js';
import type { TemplateMessage, TemplatePart } from './tokenizer.js';
import type { ToolCall, ToolChoice, ToolDefinition } from './tools.js';

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string | readonly ContentPart[] | null;
  tool_calls?: readonly ToolCall[];
  tool_call_id?: string;
  name?: string;
}

export type ResponseFormat = { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; json_schema: { name?: string; schema?: unknown; strict?: boolean | null } };

export interface ChatOptions extends GenerateOptions {
  tools?: readonly ToolDefinition[];
  /** @default 'auto' when tools are given */
  toolChoice?: ToolChoice;
  /** @default { type: 'text' } */
  responseFormat?: ResponseFormat;
  /** Bounds that keep constrained JSON finite (string length, items, keys, depth). @default DEFAULT_JSON_LIMITS */
  jsonLimits?: Partial<JsonLimits>;
}

export interface AssistantMessage {
  role: 'assistant';
  content: string | null;
  tool_calls?: ToolCall[];
}

export interface ChatResult extends Omit<Completion, 'finishReason'> {
  finishReason: FinishReason | 'tool_calls';
  message: AssistantMessage;
}

/** A piece of a streamed answer. */
export interface ChatDelta {
  content?: string;
  toolCalls?: ToolCall[];
  /** Token ids generated since the previous delta. */
  tokens: number[];
}

/**
 * A generation in progress: `await` it for the whole result, or iterate `stream()` for deltas (its return value
 * is the result too). Nothing runs until one of them is asked for.
 */
export class GenerationRun<R> implements PromiseLike<R> {
  private started = false;
  private readonly settled: Promise<R>;
  private resolve!: (value: R) => void;
  private reject!: (reason: unknown) => void;

  constructor(private readonly source: () => AsyncGenerator<ChatDelta, R>) {
    this.settled = new Promise<R>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Unobserved until awaited: a streaming caller sees the error from the stream itself.
    this.settled.catch(() => undefined);
  }

  stream(): AsyncGenerator<ChatDelta, R> {
    if (this.started) throw new MoxingError('INTERNAL', 'a generation runs once: stream() or await it, not both twice');
    this.started = true;
    const inner = this.source();
    const settle = { resolve: this.resolve, reject: this.reject };
    return (async function* () {
      try {
        const value = yield* inner;
        settle.resolve(value);
        return value;
      } catch (error) {
        settle.reject(error);
        throw error;
      } finally {
        settle.reject(new MoxingError('INTERNAL', 'the stream was left before the generation ended'));
      }
    })();
  }

  result(): Promise<R> {
    if (!this.started) {
      const stream = this.stream();
      void (async () => {
        try {
          for (;;) if ((await stream.next()).done) break;
        } catch {
          // Reported through `settled`.
        }
      })();
    }
    return this.settled;
  }

  then<A = R, B = never>(onFulfilled?: ((value: R) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.result().then(onFulfilled, onRejected);
  }
}

export type Engine = 'onnx' | 'llama.cpp';

export interface ChatModel {
  /** The reference it was loaded from. */
  readonly id: string;
  readonly engine: Engine;
  /** Tokens of prompt plus output the model takes. */
  readonly contextLength: number;
  /** Whether messages may carry images. */
  readonly vision: boolean;
  chat(messages: readonly ChatMessage[], options?: ChatOptions): GenerationRun<ChatResult>;
  /** Raw completion of `prompt`, no template. */
  generate(prompt: string, options?: GenerateOptions): GenerationRun<ChatResult>;
  /** Prompt tokens a conversation takes (the template applied). */
  countTokens(messages: readonly ChatMessage[], options?: ChatOptions): Promise<number>;
  dispose(): Promise<void>;
}

/** Runs `model.chat`: `await chat(model, messages)` or `for await (const d of chat(model, messages).stream())`. */
export function chat(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions = {}): GenerationRun<ChatResult> {
  return model.chat(messages, options);
}

/** Runs `model.generate`: raw completion without a chat template. */
export function generate(model: ChatModel, prompt: string, options: GenerateOptions = {}): GenerationRun<ChatResult> {
  return model.generate(prompt, options);
}

/** The text of a message; images are refused unless `allowImages` (then they are left to the caller). */
export function messageText(message: ChatMessage, allowImages: boolean): string | null {
  const content = message.content;
  if (content === null || typeof content === 'string') return content;
  const texts: string[] = [];
  for (const part of content) {
    if (part.type === 'text') texts.push(part.text);
    else if (!allowImages) throw new MoxingError('BAD_ARGUMENT', 'this model reads text only: remove the image parts, or use a vision-language model');
  }
  return texts.join('\n');
}

/**
 * A message's content as vision-language templates read it: a list of `{type: 'text', text}` and
 * `{type: 'image'}` parts (a plain string becomes one text part), as transformers' processors pass it.
 */
export function contentParts(message: ChatMessage): TemplatePart[] {
  const content = message.content;
  if (content === null) return [];
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((part) => (part.type === 'text' ? { type: 'text', text: part.text } : { type: 'image' }));
}

/**
 * OpenAI messages as chat templates read them: `developer` as `system`, tool-call arguments as objects, and the
 * content as text, or (`vision`: a vision-language model's template) as a list of text and image parts.
 */
export function templateMessages(messages: readonly ChatMessage[], vision = false): TemplateMessage[] {
  if (messages.length === 0) throw new MoxingError('BAD_ARGUMENT', 'messages must hold at least one message');
  return messages.map((m) => {
    const out: TemplateMessage = { role: m.role === 'developer' ? 'system' : m.role, content: vision ? contentParts(m) : (messageText(m, false) ?? '') };
    if (m.role === 'assistant' && m.tool_calls && m.tool_calls.length > 0) {
      out.tool_calls = m.tool_calls.map((call) => {
        let args: unknown = call.function.arguments;
        try {
          args = JSON.parse(call.function.arguments);
        } catch {
          // Arguments that are not JSON are passed on as text.
        }
        return { id: call.id, type: 'function', function: { name: call.function.name, arguments: args } };
      });
    }
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.name !== undefined) out.name = m.name;
    return out;
  });
}
