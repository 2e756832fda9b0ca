/**
 * One error handler for the whole app: a MoxingError is answered with its code's status and
 * `{ error: { code, message } }`; fastify's own 4xx (bad JSON, body too large, schema) keep their status
 * as BAD_ARGUMENT; anything else is logged and answered as INTERNAL without leaking internals.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ERROR_CODES, MoxingError } from '../errors.js';

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, _request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof MoxingError) return reply.status(error.status).send({ error: { code: error.code, message: error.message } });
    const e = error as { statusCode?: number; message?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return reply.status(e.statusCode).send({ error: { code: 'BAD_ARGUMENT', message: e.message } });
    app.log.error(error);
    return reply.status(ERROR_CODES.INTERNAL.status).send({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
  );
}

/** Parses a request body with `schema`, naming the first bad field in a BAD_ARGUMENT error. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new MoxingError('BAD_ARGUMENT', `invalid request body at "${issue.path.join('.') || '(root)'}": ${issue.message}`);
  }
  return result.data;
}
