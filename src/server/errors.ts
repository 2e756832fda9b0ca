/**
 * One error handler for the whole app. Every answer is `{ error: { code, message } }` with the code's status;
 * nothing in it comes from the server's own files or settings:
 * - the codes that describe the server's side (a download, the cache, the model files, the device) answer
 *   with the code's public description, and the detail goes to the log;
 * - the others keep their message, with absolute paths cut to their last part, URLs removed, and the whole cut
 *   to MAX_MESSAGE_CHARS;
 * - fastify's own 4xx keep their status under a moxing code; anything else is INTERNAL, logged, never shown.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { clipInput, ERROR_CODES, MoxingError, quoteInput, type ErrorCode } from '../errors.js';

export const MAX_MESSAGE_CHARS = 400;

/** Codes whose message speaks of the server's files, settings or upstreams, not of the request. */
const SERVER_SIDE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'DOWNLOAD_FAILED',
  'MODEL_OFFLINE',
  'MODEL_INVALID',
  'TOKENIZER_INVALID',
  'DEVICE_UNAVAILABLE',
  'OUTPUT_FAILED',
  'UNAVAILABLE',
  'INTERNAL',
]);

export interface PublicError {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

/** What a client may be told about `error`; `logged` says whether the server log should hold the rest. */
export function publicError(error: unknown): PublicError & { logged: boolean } {
  if (error instanceof MoxingError) {
    if (SERVER_SIDE.has(error.code)) return { status: error.status, code: error.code, message: ERROR_CODES[error.code].description, logged: true };
    return { status: error.status, code: error.code, message: redact(error.message), logged: false };
  }
  const e = error as Partial<FastifyError> & { status?: number };
  const status = e.statusCode ?? e.status;
  if (e.code === 'FST_ERR_HANDLER_TIMEOUT') return { status: 503, code: 'TIMEOUT', message: 'the request did not finish within the server\'s time limit', logged: true };
  if (status !== undefined && status >= 400 && status < 500) {
    if (error instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return { status: 400, code: 'BAD_ARGUMENT', message: 'the request body is not valid JSON', logged: false };
    }
    const code: ErrorCode = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 429 ? 'BUSY' : status === 408 ? 'TIMEOUT' : 'BAD_ARGUMENT';
    return { status, code, message: redact(e.message ?? 'bad request'), logged: false };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error; see the server log', logged: true };
}

/** Absolute paths to their last part, URLs out, control characters out, and the whole cut short. */
export function redact(message: string): string {
  const cleaned = message
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)]+/gi, '<url>')
    .replace(/(^|[\s"'(=:[])((?:\/|[A-Za-z]:\\)[^\s"'):\]]*)/g, (_m, lead: string, path: string) => lead + lastPart(path))
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '?');
  return cleaned.length > MAX_MESSAGE_CHARS ? `${cleaned.slice(0, MAX_MESSAGE_CHARS)}…` : cleaned;
}

function lastPart(path: string): string {
  const parts = path.split(/[\\/]+/).filter(Boolean);
  return parts.length <= 1 ? path : `…/${parts[parts.length - 1]}`;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const answer = publicError(error);
    if (answer.logged) request.log.error({ err: error }, 'request failed');
    if (answer.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    return reply.status(answer.status).send({ error: { code: answer.code, message: answer.message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${quoteInput(request.url.split('?')[0], 100)}` } }),
  );
}

/** Parses a request body with `schema`, naming the first bad field in a BAD_ARGUMENT error. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.map((p) => clipInput(String(p), 40)).join('.');
    throw new MoxingError('BAD_ARGUMENT', `invalid request body at "${path || '(root)'}": ${clipInput(issue.message, 200)}`);
  }
  return result.data;
}
