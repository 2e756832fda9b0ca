/**
 * What the server lets a client do, in one place: who may call it, how much they may send, how long and how
 * much work a request may cost. Every route, present and future, runs under these rules (see hardening.ts).
 */
import { withDefaults } from '../defaults.js';

export interface SecurityOptions {
  /** Bearer token every route but /health requires, compared in constant time. @default $MOXING_API_KEY, else none */
  apiKey: string | undefined;
  /**
   * Host header names (no port) the server answers; anything else is 403, which stops DNS rebinding from a web
   * page. 'any' turns the check off (a public bind behind a proxy that checks Host). @default the loopback names
   */
  allowedHosts: readonly string[] | 'any';
  /** Origins allowed by CORS; none means no CORS headers at all (browsers then refuse cross-origin calls). @default [] */
  corsOrigins: readonly string[];
  /** Whole-request receipt limit (headers and body): a client trickling bytes is cut off. @default 30000 */
  requestTimeoutMs: number;
  /** Socket inactivity limit. @default 60000 */
  connectionTimeoutMs: number;
  /** Limit on one route handler's work; past it the answer is 503 TIMEOUT. @default 120000 */
  handlerTimeoutMs: number;
  /** Model work (inference, image decoding) running at once across the server. @default 2 */
  maxConcurrentWork: number;
  /** Requests waiting for a work slot; past it the answer is 429 with Retry-After. @default 8 */
  maxQueuedWork: number;
  /** Requests per client address per minute (@fastify/rate-limit); 0 turns it off. @default 600 */
  rateLimitPerMinute: number;
  /** Default JSON body limit. @default 1 MiB */
  bodyLimitBytes: number;
  /** Body limit of the image routes (base64 images in JSON). @default 32 MiB */
  imageBodyLimitBytes: number;
  /** Pixels one image may decode to; larger ones are 413 before decoding. @default 40 megapixels */
  maxImagePixels: number;
  /** Request-given hub ids that may be downloaded (never local paths). @default false */
  allowRemoteModels: boolean;
  /** Largest single file fetched for a request-given model. @default 64 MiB */
  maxRemoteModelBytes: number;
  /** Grace for running requests at shutdown before connections are cut. @default 10000 */
  shutdownGraceMs: number;
  /** GET /metrics answers without the API key (for a scraper that cannot send one). @default false */
  publicMetrics: boolean;
}

export const LOOPBACK_HOSTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '::1']);

export const DEFAULT_SECURITY: Readonly<Omit<SecurityOptions, 'apiKey'>> = Object.freeze({
  allowedHosts: LOOPBACK_HOSTS,
  corsOrigins: [],
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 60_000,
  handlerTimeoutMs: 120_000,
  maxConcurrentWork: 2,
  maxQueuedWork: 8,
  rateLimitPerMinute: 600,
  bodyLimitBytes: 1024 * 1024,
  imageBodyLimitBytes: 32 * 1024 * 1024,
  maxImagePixels: 40_000_000,
  allowRemoteModels: false,
  maxRemoteModelBytes: 64 * 1024 * 1024,
  shutdownGraceMs: 10_000,
  publicMetrics: false,
});

export function resolveSecurityOptions(options: Partial<SecurityOptions> = {}, env: NodeJS.ProcessEnv = process.env): SecurityOptions {
  return withDefaults<SecurityOptions>({ ...DEFAULT_SECURITY, apiKey: env.MOXING_API_KEY || undefined }, options);
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
