/**
 * The rules every route runs under, installed once before any capability plugin: Host allow-list, rate limit,
 * API key, CORS, and the limits fastify and Node enforce for us (body size, request and handler time, header
 * size). Capability plugins add nothing of their own here; they only run model work through `app.work`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { MoxingError } from '../errors.js';
import { PROBE_ROUTES } from './ops.js';
import type { SecurityOptions } from './options.js';
import { WorkLimiter } from './work-limiter.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Runs model work under the server's global concurrency limit (429 past it). */
    work<T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T>;
    /** The limiter behind `work`, for readiness and metrics. */
    readonly workLimiter: WorkLimiter;
    /** The server's resolved security options. */
    readonly security: SecurityOptions;
  }
  interface FastifyContextConfig {
    /** A static file of the web UI: answered without the API key (the page asks for the key), under every other rule. */
    publicAsset?: boolean;
  }
}

/** Largest request line plus headers Node accepts; past it the answer is 431. */
const MAX_HEADER_BYTES = 16 * 1024;

/** The fastify constructor options that carry the limits. */
export function serverLimits(security: SecurityOptions): FastifyServerOptions {
  return {
    bodyLimit: security.bodyLimitBytes,
    requestTimeout: security.requestTimeoutMs,
    connectionTimeout: security.connectionTimeoutMs,
    handlerTimeout: security.handlerTimeoutMs,
    // Only the whole-request and header limits cut a client that sends a byte every few seconds; Node checks
    // them every connectionsCheckingInterval, so that interval bounds how late the cut comes.
    http: {
      headersTimeout: Math.min(security.requestTimeoutMs, 15_000),
      connectionsCheckingInterval: Math.max(100, Math.min(1000, security.requestTimeoutMs / 4)),
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    clientErrorHandler: answerClientError,
    // Errors fastify's router raises before any route (a bad URL, a path parameter over its length): the same shape.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) =>
      reply.status(400).send({ error: { code: 'BAD_ARGUMENT', message: error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is too long' : 'the request URL is malformed' } }),
    // No prototype-poisoned JSON reaches a handler.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  } as FastifyServerOptions;
}

export async function installHardening(app: FastifyInstance, security: SecurityOptions): Promise<void> {
  const limiter = new WorkLimiter({ maxConcurrent: security.maxConcurrentWork, maxQueued: security.maxQueuedWork });
  app.decorate('workLimiter', limiter);
  app.decorate('security', security);
  // zod validates every body (strict, no coercion, errors naming the field); route schemas are documentation.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  app.decorate('work', async function work<T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> {
    const abandoned = abandonSignal(request);
    try {
      return await limiter.run(fn, abandoned.signal);
    } finally {
      abandoned.dispose(); // a keep-alive socket outlives its requests: one close listener each would pile up
    }
  });

  if (security.allowedHosts !== 'any') {
    const allowed = new Set(security.allowedHosts.map((h) => h.toLowerCase()));
    app.addHook('onRequest', async (request) => {
      const host = hostName(request.headers.host);
      if (host === undefined || !allowed.has(host)) {
        throw new MoxingError('FORBIDDEN', 'this Host is not served here; start the server with --allowed-host NAME to serve it');
      }
    });
  }
  if (security.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      global: true,
      max: security.rateLimitPerMinute,
      timeWindow: 60_000,
      errorResponseBuilder: (_request, context) =>
        new MoxingError('BUSY', `rate limit reached: at most ${context.max} requests a minute; retry in ${context.after}`),
    });
  }
  if (security.corsOrigins.length > 0) {
    // Before the key check: a browser's preflight carries no Authorization header.
    await app.register(cors, { origin: [...security.corsOrigins], allowedHeaders: ['authorization', 'content-type'], maxAge: 600 });
  }
  if (security.apiKey !== undefined) {
    const expected = digest(security.apiKey);
    app.addHook('onRequest', async (request, reply: FastifyReply) => {
      const route = request.routeOptions.url;
      if (route !== undefined && (PROBE_ROUTES.has(route) || (security.publicMetrics && route === '/metrics'))) return;
      if (request.routeOptions.config?.publicAsset === true) return;
      const header = request.headers.authorization;
      const token = typeof header === 'string' && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
      // Digests of equal length, so neither the key nor its length shows in the time taken.
      if (token === undefined || !timingSafeEqual(digest(token), expected)) {
        reply.header('www-authenticate', 'Bearer');
        throw new MoxingError('UNAUTHORIZED', 'this server requires an API key: send Authorization: Bearer KEY');
      }
    });
  }
}

/**
 * Aborts when the request's answer can no longer matter: its client went away, or its handler time ran out.
 * Not `request.signal` alone: on Node 20 fastify aborts that when the request body has been read.
 */
function abandonSignal(request: FastifyRequest): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const socket = request.raw.socket;
  const gone = (): void => controller.abort(new MoxingError('TIMEOUT', 'the client went away before its work started'));
  if (socket.destroyed) gone();
  else socket.once('close', gone);
  request.signal.addEventListener('abort', () => {
    const reason = request.signal.reason as { code?: string } | undefined;
    if (reason?.code === 'FST_ERR_HANDLER_TIMEOUT') controller.abort(reason);
  });
  const dispose = (): void => void socket.off('close', gone);
  controller.signal.addEventListener('abort', dispose);
  return { signal: controller.signal, dispose };
}

/** Whether `token` is the API key, compared in constant time (the HTTP hook's rule, for the WebSocket upgrade too). */
export function apiKeyMatches(token: string | undefined, apiKey: string): boolean {
  return token !== undefined && timingSafeEqual(digest(token), digest(apiKey));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The Host header's name without its port: `[::1]:8080` → `::1`, `Example.com:80` → `example.com`. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : undefined;
  }
  const colon = h.indexOf(':');
  // More than one colon without brackets is an IPv6 literal with no port.
  if (colon >= 0 && h.indexOf(':', colon + 1) >= 0) return h;
  return colon >= 0 ? h.slice(0, colon) : h;
}

/** A request Node's parser refused (bad framing, headers too large, too slow): the same JSON error shape. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'PAYLOAD_TOO_LARGE', `the request headers are over ${MAX_HEADER_BYTES} bytes`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'TIMEOUT', 'the request was not received in time']
        : [400, 'BAD_ARGUMENT', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
