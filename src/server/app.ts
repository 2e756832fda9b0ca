/**
 * The HTTP app: one fastify instance with the hardening rules installed first and a plugin per capability.
 * `buildApp` never listens, so tests use `app.inject` and the CLI's `serve` decides host and port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { audioPlugin, type AudioPluginOptions } from './audio.js';
import { calcPlugin, type CalcPluginOptions } from './calc.js';
import { installErrorHandler } from './errors.js';
import { installHardening, serverLimits } from './hardening.js';
import { imagesPlugin, type ImagesPluginOptions } from './images.js';
import { resolveSecurityOptions, type SecurityOptions } from './options.js';
import { jobsPlugin } from './jobs.js';
import { whisperLoader } from './whisper-loader.js';
import { openJobBackend, resolveJobOptions, type JobBackend, type JobOptions } from '../jobs/index.js';
import type { WorkLimiter } from './work-limiter.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The job backend behind /v1/jobs (its events, depth and reachability are for /ready and /metrics), when jobs are on. */
    readonly jobs: JobBackend | undefined;
  }
}

export interface AppOptions {
  /** fastify's logger (pino, JSON lines). @default false */
  logger?: boolean;
  /** Auth, Host allow-list, CORS, limits and timeouts. @default DEFAULT_SECURITY, the API key from $MOXING_API_KEY */
  security?: Partial<SecurityOptions>;
  /** Models requests may name, as given at start-up: aliases, hub ids or folders. @default [] */
  models?: readonly string[];
  /** Options of the image routes, or false to leave them out. @default {} */
  images?: ImagesPluginOptions | false;
  /** Options of the transformer-math routes, or false to leave them out. @default {} */
  calc?: CalcPluginOptions | false;
  /** Options of the OpenAI-compatible speech routes (/v1/audio/*, /v1/models), or false to leave them out. @default {} */
  audio?: AudioPluginOptions | false;
  /** The job routes (/v1/jobs) and their store and worker, or false to leave them out. `backend` replaces the one the options would open. @default false */
  jobs?: (Partial<JobOptions> & { backend?: JobBackend }) | false;
}

export async function buildApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const security = resolveSecurityOptions(options.security);
  const app = Fastify({ logger: options.logger ?? false, ...serverLimits(security) });
  // Before the plugins, so every route inherits one error format and the same rules.
  installErrorHandler(app);
  await installHardening(app, security);
  app.get('/health', { config: { rateLimit: false } }, async () => ({ status: 'ok' }));
  const served = { models: options.models ?? [], allowRemoteModels: security.allowRemoteModels };
  if (options.images !== false) await app.register(imagesPlugin, { ...options.images });
  if (options.calc !== false) await app.register(calcPlugin, { ...served, ...options.calc });
  const audio = options.audio === false ? {} : options.audio;
  // One loader for the speech routes and the job worker: a model is loaded once.
  const load = audio?.load ?? whisperLoader(audio?.modelOptions);
  if (options.audio !== false) await app.register(audioPlugin, { models: options.models, ...options.audio, load });
  if (!options.jobs) app.decorate('jobs', undefined);
  else {
    const { backend: given, ...jobOptions } = options.jobs;
    const resolved = resolveJobOptions(jobOptions);
    const backend = given ?? (await openJobBackend({ ...resolved, load, runWork: (fn) => underLimiter(app.workLimiter, fn) }));
    app.decorate('jobs', backend);
    // After the server has stopped accepting: running jobs get the grace, then are requeued.
    if (!given) app.addHook('onClose', () => backend.close(security.shutdownGraceMs));
    await app.register(jobsPlugin, { backend, models: options.models, maxUploadBytes: audio?.maxUploadBytes, allowPrivateWebhooks: resolved.allowPrivateWebhooks });
  }
  return app;
}

/** Job work waits for a slot of the server's work limit (it shares the cores with requests) rather than failing BUSY. */
async function underLimiter<T>(limiter: WorkLimiter, fn: () => Promise<T>): Promise<T> {
  for (;;) {
    let started = false;
    try {
      return await limiter.run(() => {
        started = true;
        return fn();
      });
    } catch (error) {
      if (started || (error as { code?: string }).code !== 'BUSY') throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
