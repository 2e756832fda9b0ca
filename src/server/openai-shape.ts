/**
 * What the OpenAI-mirroring routes (/v1/chat/completions, /v1/completions, /v1/embeddings) share: OpenAI's error
 * shape `{error: {message, type, param, code}}` so its clients raise their typed errors, strict body parsing that
 * names the bad field in `error.param`, and stopping work for a client that left.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { MoxingError, clipInput } from '../errors.js';
import { publicError } from './errors.js';

/** A bad field, named as OpenAI names it in `error.param`. */
export class ParamError extends MoxingError {
  constructor(readonly param: string, message: string) {
    super('BAD_ARGUMENT', message);
  }
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

/** OpenAI's error body for `error`, with its status. */
export function openAiError(error: unknown): { status: number; logged: boolean; body: OpenAiErrorBody } {
  const answer = publicError(error);
  const type = answer.status >= 500 ? 'server_error' : 'invalid_request_error';
  return { status: answer.status, logged: answer.logged, body: { error: { message: answer.message, type, param: error instanceof ParamError ? error.param : null, code: answer.code.toLowerCase() } } };
}

/** OpenAI's error shape on every route of the plugin `app` is. */
export function installOpenAiErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const answer = openAiError(error);
    if (answer.logged) request.log.error({ err: error }, 'request failed');
    if (answer.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    return reply.status(answer.status).send(answer.body);
  });
}

/** `body` through `schema`, or a ParamError naming the first bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.map((p) => clipInput(String(p), 40)).join('.');
    throw new ParamError(path || 'body', `invalid request body at "${path || '(root)'}": ${clipInput(issue.message, 200)}`);
  }
  return result.data;
}

/**
 * Aborts when the client leaves, so a non-streamed generation stops working for nobody. The watch ends with the
 * answer: a keep-alive socket serves many requests and must not gather a listener per request.
 */
export function abandoned(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const socket = request.raw.socket;
  const gone = () => controller.abort(new MoxingError('TIMEOUT', 'the client went away'));
  if (socket.destroyed) gone();
  else {
    socket.once('close', gone);
    reply.raw.once('finish', () => socket.off('close', gone));
  }
  return controller.signal;
}

/**
 * Answers `stream` as OpenAI's server-sent events. Its first item is awaited before the answer starts, so a
 * model or request that fails answers a plain error; then `write` sends the events. A failure midway is sent as
 * an error event, and the stream and the answer are always ended.
 */
export async function answerEvents<T, R>(
  request: FastifyRequest,
  reply: FastifyReply,
  stream: AsyncGenerator<T, R>,
  write: (first: IteratorResult<T, R>, send: (event: unknown) => boolean) => Promise<void>,
): Promise<void> {
  let first: IteratorResult<T, R>;
  try {
    first = await stream.next();
  } catch (error) {
    await stream.return(undefined as never).catch(() => undefined);
    throw error;
  }
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (event: unknown): boolean => reply.raw.write(`data: ${JSON.stringify(event)}\n\n`);
  try {
    await write(first, send);
  } catch (error) {
    request.log.error({ err: error }, 'stream failed');
    send(openAiError(error).body);
  } finally {
    await stream.return(undefined as never).catch(() => undefined);
    reply.raw.end();
  }
}
