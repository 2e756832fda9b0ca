/**
 * OpenAI's `POST /v1/chat/completions` over the chat models this server was started with: messages (text; image
 * parts only for vision models, and http(s) URLs fetched only with `remoteImages`), sampling, `stop`, `seed`,
 * `logprobs`, `tools` / `tool_choice`, `response_format` (json_object, json_schema), `n` = 1, and `stream` as SSE
 * chunks with `stream_options.include_usage`. Answers and errors are OpenAI's shapes, so its clients work
 * unchanged. The generation is the server's model work; a client that leaves stops it.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ChatDelta, ChatMessage, ChatModel, ChatOptions, ChatResult } from '../chat/index.js';
import { chatWithPrinciples, type PrincipledResult } from '../chat/principles.js';
import { DEFAULT_IMAGE_LIMITS } from '../chat/image-parts.js';
import type { ChatLoadOptions } from '../chat/load.js';
import { inlineRemoteImages, type RemoteImageOptions } from '../chat/remote-images.js';
import { ModelAllowList, publicModelName } from './models.js';
import { completionsRoute } from './completions.js';
import { loadedOnce } from './loaded-once.js';
import { abandoned, answerEvents, installOpenAiErrors, parseBody, ParamError } from './openai-shape.js';

export interface ChatPluginOptions {
  /** Chat models requests may name, as given at start-up. @default [] */
  models?: readonly string[];
  /** How the models load (variant, runtime, engine, threads). */
  modelOptions?: ChatLoadOptions;
  /** Fetch image parts given as http(s) URLs (chat/remote-images.ts); undefined refuses them. Data URLs are always read. */
  remoteImages?: RemoteImageOptions;
  /** Register `GET /v1/models` (when the speech routes, which list every model, are left out). @default false */
  listModels?: boolean;
  /**
   * Principles (chat/principles.ts) every answer follows: in the system prompt, then a critique and a rewrite of the
   * draft; a request with tools gets the system prompt only (a tool call is not text to rewrite). @default none
   */
  principles?: readonly string[];
}

const text = z.string().max(1_000_000);
const TextPart = z.strictObject({ type: z.literal('text'), text });
const ImagePart = z.strictObject({ type: z.literal('image_url'), image_url: z.strictObject({ url: z.string().max(20_000_000), detail: z.enum(['auto', 'low', 'high']).optional() }) });
const ToolCallSchema = z.strictObject({ id: z.string().max(200), type: z.literal('function'), function: z.strictObject({ name: z.string().max(200), arguments: z.string().max(1_000_000) }) });
const name = z.string().max(200).optional();

const Message = z.discriminatedUnion('role', [
  z.strictObject({ role: z.enum(['system', 'developer']), content: z.union([text, z.array(TextPart).max(1000)]), name }),
  z.strictObject({ role: z.literal('user'), content: z.union([text, z.array(z.discriminatedUnion('type', [TextPart, ImagePart])).max(1000)]), name }),
  z.strictObject({ role: z.literal('assistant'), content: z.union([text, z.array(TextPart).max(1000)]).nullish(), tool_calls: z.array(ToolCallSchema).max(128).optional(), name, refusal: z.string().nullish() }),
  z.strictObject({ role: z.literal('tool'), content: z.union([text, z.array(TextPart).max(1000)]), tool_call_id: z.string().max(200) }),
]);

const Tool = z.strictObject({
  type: z.literal('function'),
  function: z.strictObject({ name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'), description: z.string().max(10_000).optional(), parameters: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish() }),
});

const Body = z.strictObject({
  model: z.string().min(1).max(200),
  messages: z.array(Message).min(1).max(2000),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).max(100_000).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  repetition_penalty: z.number().min(0.01).max(10).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string().regex(/^\d{1,7}$/, 'keys must be token ids'), z.number().min(-100).max(100)).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  max_completion_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  n: z.literal(1).nullish(),
  seed: z.number().int().min(-(2 ** 53) + 1).max(2 ** 53 - 1).nullish(),
  stop: z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).max(4)]).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(Tool).max(128).optional(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string().max(64) }) })]).optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('text') }),
      z.strictObject({ type: z.literal('json_object') }),
      z.strictObject({ type: z.literal('json_schema'), json_schema: z.strictObject({ name: z.string().max(64), description: z.string().max(10_000).optional(), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish() }) }),
    ])
    .optional(),
  user: z.string().max(500).optional(),
});

type Body = z.infer<typeof Body>;

export async function chatPlugin(app: FastifyInstance, options: ChatPluginOptions): Promise<void> {
  const served = options.models ?? [];
  const allowList = new ModelAllowList({ served });
  // Images of a request are held to the image routes' limits.
  const imageLimits = { maxImagePixels: app.security.maxImagePixels, maxImageBytes: app.security.imageBodyLimitBytes, ...options.modelOptions?.imageLimits };
  const loadModel = loadedOnce(app, (ref): Promise<ChatModel> => {
    return import('../chat/load.js').then(({ loadChatModel }) => loadChatModel(ref, { ...options.modelOptions, imageLimits }));
  });

  // OpenAI's error shape on these routes, so its clients raise their typed errors.
  installOpenAiErrors(app);

  // Images travel as base64 data URLs inside the JSON: the image routes' body limit.
  app.post('/v1/chat/completions', { bodyLimit: app.security.imageBodyLimitBytes }, async (request, reply) => {
    const body = parse(request.body);
    const ref = allowList.resolve(body.model).ref;
    const remote = options.remoteImages;
    const checked = body.messages.map((m) => checkImages(m as ChatMessage, remote !== undefined));
    const chatOptions = toChatOptions(body);
    // Remote images are fetched before the request waits for a work slot: a slow image server holds up no model work.
    const messages = remote ? await inlineRemoteImages(checked, remote, { ...DEFAULT_IMAGE_LIMITS, ...imageLimits }) : checked;
    const load = async (ref: string): Promise<ChatModel> => {
      const model = await loadModel(ref);
      if (!model.vision && messages.some((m) => Array.isArray(m.content) && m.content.some((part) => part.type === 'image_url'))) {
        throw new ParamError('messages', `${publicModelName(body.model)} reads text only: remove the image_url parts, or use a vision-language model`);
      }
      return model;
    };
    const answer = (model: ChatModel, extra: ChatOptions = {}) => chatWithPrinciples(model, messages, options.principles, { ...chatOptions, ...extra });
    const id = `chatcmpl-${randomBytes(12).toString('base64url')}`;
    const created = Math.floor(Date.now() / 1000);
    const model = publicModelName(body.model);
    if (body.stream) {
      return app.work(request, async () => streamChat(request, reply, answer(await load(ref)).stream(), { id, created, model, usage: body.stream_options?.include_usage ?? false, logprobs: body.logprobs ?? false }));
    }
    const result = await app.work(request, async () => answer(await load(ref), { signal: abandoned(request, reply) }).result());
    return {
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: null,
      choices: [{ index: 0, message: { ...result.message, refusal: null }, logprobs: body.logprobs ? openAiLogprobs(result) : null, finish_reason: result.finishReason }],
      usage: usage(result),
    };
  });

  completionsRoute(app, { allowList, load: loadModel });

  if (options.listModels) {
    app.get('/v1/models', async () => ({ object: 'list', data: allowList.names.map((id) => ({ id: publicModelName(id), object: 'model', created: 0, owned_by: 'moxing' })) }));
  }
}

function parse(body: unknown): Body {
  return parseBody(Body, body);
}

function checkImages(message: ChatMessage, allowRemote: boolean): ChatMessage {
  if (Array.isArray(message.content)) {
    for (const part of message.content) {
      if (part.type === 'image_url' && !part.image_url.url.startsWith('data:') && !allowRemote) {
        throw new ParamError('messages', 'image URLs must be data: URLs (data:image/png;base64,...); this server does not fetch remote images (moxing serve --allow-remote-images does)');
      }
    }
  }
  return message;
}

function toChatOptions(body: Body): ChatOptions {
  const defined = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);
  if (body.top_logprobs && !body.logprobs) throw new ParamError('top_logprobs', 'top_logprobs needs logprobs: true');
  if (body.tool_choice && body.tool_choice !== 'none' && body.tool_choice !== 'auto' && (!body.tools || body.tools.length === 0)) throw new ParamError('tool_choice', 'tool_choice requires tools');
  const logitBias = body.logit_bias ? Object.fromEntries(Object.entries(body.logit_bias).map(([k, v]) => [Number(k), v])) : undefined;
  return {
    temperature: defined(body.temperature),
    topP: defined(body.top_p),
    topK: defined(body.top_k),
    minP: defined(body.min_p),
    repetitionPenalty: defined(body.repetition_penalty),
    presencePenalty: defined(body.presence_penalty),
    frequencyPenalty: defined(body.frequency_penalty),
    logitBias,
    seed: defined(body.seed),
    maxTokens: defined(body.max_completion_tokens) ?? defined(body.max_tokens),
    stop: typeof body.stop === 'string' ? [body.stop] : defined(body.stop),
    logprobs: defined(body.logprobs),
    topLogprobs: defined(body.top_logprobs),
    tools: body.tools as ChatOptions['tools'],
    toolChoice: body.tool_choice,
    responseFormat: body.response_format as ChatOptions['responseFormat'],
  };
}

/** OpenAI's usage: a principled answer counts its three passes. */
function usage(result: ChatResult | PrincipledResult) {
  const { promptTokens, completionTokens } = 'passes' in result ? result.passes : { promptTokens: result.promptTokens, completionTokens: result.tokens.length };
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, prompt_tokens_details: { cached_tokens: result.cachedTokens } };
}

function tokenBytes(token: string): number[] {
  return [...Buffer.from(token, 'utf8')];
}

function openAiLogprobs(result: Pick<ChatResult, 'logprobs'>) {
  return {
    content: (result.logprobs ?? []).map((entry) => ({
      token: entry.text,
      logprob: entry.logprob,
      bytes: tokenBytes(entry.text),
      top_logprobs: entry.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: tokenBytes(t.text) })),
    })),
    refusal: null,
  };
}

/**
 * SSE chunks as OpenAI sends them: a role chunk, content (or tool_calls) deltas, a final chunk with the
 * finish_reason, an optional usage chunk, then `[DONE]`. The first delta is awaited before the answer starts,
 * so a model or request that fails answers a plain error.
 */
async function streamChat(request: FastifyRequest, reply: FastifyReply, stream: AsyncGenerator<ChatDelta, ChatResult>, meta: { id: string; created: number; model: string; usage: boolean; logprobs: boolean }): Promise<void> {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) => ({
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...extra }],
  });
  await answerEvents(request, reply, stream, async (first, send) => {
    send(chunk({ role: 'assistant', content: '' }));
    let toolIndex = 0;
    let next = first;
    for (; !next.done; next = await stream.next()) {
      if (reply.raw.destroyed) return; // the client left: stop generating for nobody
      const delta = next.value;
      if (delta.content) send(chunk({ content: delta.content }));
      for (const call of delta.toolCalls ?? []) send(chunk({ tool_calls: [{ index: toolIndex++, id: call.id, type: 'function', function: call.function }] }));
    }
    const result = next.value;
    if (meta.logprobs && result.logprobs && result.logprobs.length > 0) send(chunk({}, null, { logprobs: openAiLogprobs(result) }));
    send(chunk({}, result.finishReason));
    if (meta.usage) send({ id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, system_fingerprint: null, choices: [], usage: usage(result) });
    reply.raw.write('data: [DONE]\n\n');
  });
}
