/**
 * OpenAI's legacy `POST /v1/completions` over the served chat models: raw, template-free completion of one prompt
 * (as `moxing generate` does) on either engine, with sampling, `stop`, `seed`, `logprobs` (an integer: the
 * alternatives per position, at most 5), `n` = 1, `echo` false, and `stream` as SSE chunks ending `data: [DONE]`.
 * Registered by the chat plugin, so it shares its served models (loaded once) and its OpenAI error shape.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ChatDelta, ChatModel, ChatResult, GenerateOptions, TokenLogprob } from '../chat/index.js';
import type { ModelAllowList } from './models.js';
import { publicModelName } from './models.js';
import { abandoned, answerEvents, parseBody, ParamError } from './openai-shape.js';

/** OpenAI's default for this route (the chat route's is the model's room). */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

const Body = z.strictObject({
  model: z.string().min(1).max(200),
  prompt: z.union([z.string().max(1_000_000), z.array(z.string().max(1_000_000)).min(1).max(1)]),
  max_tokens: z.number().int().min(1).max(1_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string().regex(/^\d{1,7}$/, 'keys must be token ids'), z.number().min(-100).max(100)).nullish(),
  logprobs: z.number().int().min(0).max(5).nullish(),
  echo: z.literal(false).nullish(),
  n: z.literal(1).nullish(),
  best_of: z.literal(1).nullish(),
  seed: z.number().int().min(-(2 ** 53) + 1).max(2 ** 53 - 1).nullish(),
  stop: z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).max(4)]).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
  suffix: z.null().optional(),
  user: z.string().max(500).optional(),
});

type Body = z.infer<typeof Body>;

export interface CompletionsRouteOptions {
  allowList: ModelAllowList;
  load: (ref: string) => Promise<ChatModel>;
}

export function completionsRoute(app: FastifyInstance, { allowList, load }: CompletionsRouteOptions): void {
  app.post('/v1/completions', async (request, reply) => {
    const body = parseBody(Body, request.body);
    const ref = allowList.resolve(body.model).ref;
    const prompt = typeof body.prompt === 'string' ? body.prompt : body.prompt[0];
    if (prompt.length === 0) throw new ParamError('prompt', 'prompt must not be empty');
    const options = toGenerateOptions(body);
    const meta = { id: `cmpl-${randomBytes(12).toString('base64url')}`, created: Math.floor(Date.now() / 1000), model: publicModelName(body.model) };
    if (body.stream) {
      const includeUsage = body.stream_options?.include_usage ?? false;
      return app.work(request, async () => streamCompletion(request, reply, (await load(ref)).generate(prompt, options).stream(), { ...meta, includeUsage, logprobs: body.logprobs != null }));
    }
    const result = await app.work(request, async () => (await load(ref)).generate(prompt, { ...options, signal: abandoned(request, reply) }).result());
    return { ...envelope(meta), choices: [{ text: result.text, index: 0, logprobs: body.logprobs != null ? completionLogprobs(result.logprobs ?? []) : null, finish_reason: result.finishReason }], usage: usage(result) };
  });
}

function toGenerateOptions(body: Body): GenerateOptions {
  const defined = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);
  return {
    temperature: defined(body.temperature),
    topP: defined(body.top_p),
    presencePenalty: defined(body.presence_penalty),
    frequencyPenalty: defined(body.frequency_penalty),
    logitBias: body.logit_bias ? Object.fromEntries(Object.entries(body.logit_bias).map(([k, v]) => [Number(k), v])) : undefined,
    seed: defined(body.seed),
    maxTokens: defined(body.max_tokens) ?? DEFAULT_COMPLETION_MAX_TOKENS,
    stop: typeof body.stop === 'string' ? [body.stop] : defined(body.stop),
    ...(body.logprobs != null ? { logprobs: true, topLogprobs: body.logprobs } : {}),
  };
}

function envelope(meta: { id: string; created: number; model: string }) {
  return { id: meta.id, object: 'text_completion' as const, created: meta.created, model: meta.model, system_fingerprint: null };
}

function usage(result: ChatResult) {
  return { prompt_tokens: result.promptTokens, completion_tokens: result.tokens.length, total_tokens: result.promptTokens + result.tokens.length };
}

/** The legacy logprobs shape: parallel arrays, top alternatives as token → logprob maps, character offsets. */
export function completionLogprobs(entries: readonly TokenLogprob[], startOffset = 0) {
  const textOffset: number[] = [];
  let offset = startOffset;
  for (const entry of entries) {
    textOffset.push(offset);
    offset += entry.text.length;
  }
  return {
    tokens: entries.map((e) => e.text),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top.map((t) => [t.text, t.logprob]))),
    text_offset: textOffset,
  };
}

/**
 * SSE chunks as OpenAI sends them for this route: text deltas, a final chunk with the finish_reason (and the
 * logprobs, once the whole text is known), an optional usage chunk, then `[DONE]`. The first delta is awaited
 * before the answer starts, so a request that fails answers a plain error.
 */
async function streamCompletion(request: FastifyRequest, reply: FastifyReply, stream: AsyncGenerator<ChatDelta, ChatResult>, meta: { id: string; created: number; model: string; includeUsage: boolean; logprobs: boolean }): Promise<void> {
  const chunk = (text: string, finish: string | null = null, logprobs: unknown = null) => ({ ...envelope(meta), choices: [{ text, index: 0, logprobs, finish_reason: finish }] });
  await answerEvents(request, reply, stream, async (first, send) => {
    let next = first;
    for (; !next.done; next = await stream.next()) {
      if (reply.raw.destroyed) return; // the client left: stop generating for nobody
      if (next.value.content) send(chunk(next.value.content));
    }
    const result = next.value;
    send(chunk('', result.finishReason, meta.logprobs ? completionLogprobs(result.logprobs ?? []) : null));
    if (meta.includeUsage) send({ ...envelope(meta), choices: [], usage: usage(result) });
    reply.raw.write('data: [DONE]\n\n');
  });
}
