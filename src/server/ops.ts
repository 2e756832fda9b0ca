/**
 * What an operator runs the server by: GET /ready (readiness, with the checks that fail), GET /metrics
 * (Prometheus text), request ids and the JSON log's settings.
 *
 * - /health says the process answers (liveness) and /ready says it can do its work: preloaded models loaded,
 *   and whatever other parts register (`app.readiness.add('queue', ...)`). Both are open to probes without the
 *   API key and outside the rate limit; /ready names its failing checks, never paths or secrets.
 * - /metrics follows the API key when one is set (it tells request volumes and model names); `publicMetrics`
 *   opens it for a scraper that cannot send a key (bind the server privately then).
 * - A request's id is its `x-request-id` when that is sane (1–128 of `A-Za-z0-9._:-`), else a new UUID; it is
 *   in every log line of the request and echoed in the answer's `x-request-id`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { redact } from './errors.js';
import type { ServerMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The server's metrics (GET /metrics); other parts report through it. */
    readonly metrics: ServerMetrics;
    /** The checks GET /ready runs; other parts add theirs (`readiness.add('queue', check)`). */
    readonly readiness: Readiness;
  }
}

/** Passes with true; fails with false, a reason, or by throwing. */
export type ReadinessCheck = () => boolean | string | Promise<boolean | string>;

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Record<string, { ok: boolean; detail?: string }>;
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  /** Adds (or replaces) the check `name`. */
  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Runs every check at once; a check that throws fails with its (redacted) message. */
  async report(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          const result = await check();
          return [name, result === true ? { ok: true } : { ok: false, ...(typeof result === 'string' ? { detail: redact(result) } : {}) }] as const;
        } catch (error) {
          return [name, { ok: false, detail: redact((error as Error).message ?? String(error)) }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ready: entries.every(([, r]) => r.ok), checks };
  }
}

/** Routes that answer without the API key and outside the rate limit: the probes. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready']);

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: a sane incoming `x-request-id`, else a new UUID. */
export function requestId(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Where the JSON log goes and how much of it. */
export interface LoggerSettings {
  /** pino's level. @default 'info' */
  level?: string;
  /** Where the lines go. @default standard output */
  stream?: { write(line: string): void };
}

/** fastify's logger and request-id options: pino JSON lines, credentials redacted, ids as above. */
export function loggingOptions(logger: boolean | LoggerSettings | undefined): FastifyServerOptions {
  const settings = logger === true ? {} : logger || undefined;
  return {
    genReqId: requestId,
    requestIdHeader: false,
    logger: settings
      ? {
          level: settings.level ?? 'info',
          ...(settings.stream ? { stream: settings.stream } : {}),
          // The headers help (user agent, sizes); the credentials in them never reach the log.
          redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'req.headers["proxy-authorization"]'], censor: '[redacted]' },
          serializers: {
            req: (request: FastifyRequest) => ({ method: request.method, url: request.url, remoteAddress: request.ip, headers: request.headers }),
          },
        }
      : false,
  } as FastifyServerOptions;
}

/** The x-request-id echo and the request metrics: first of all hooks, so refused requests have them too. */
export function installRequestTracking(app: FastifyInstance, metrics: ServerMetrics, readiness: Readiness): void {
  app.decorate('metrics', metrics);
  app.decorate('readiness', readiness);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  metrics.instrument(app);
}

/** GET /ready and GET /metrics (after the hardening: they run under its rules). */
export function installOpsRoutes(app: FastifyInstance, metrics: ServerMetrics, readiness: Readiness): void {
  metrics.trackWorkLimiter(app.workLimiter);
  app.get('/ready', { config: { rateLimit: false } }, async (_request, reply) => {
    const report = await readiness.report();
    return reply.status(report.ready ? 200 : 503).send({ status: report.ready ? 'ready' : 'not ready', checks: report.checks });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
