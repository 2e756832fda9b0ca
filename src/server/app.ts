/**
 * The HTTP app: one fastify instance with the hardening rules installed first and a plugin per capability.
 * `buildApp` never listens, so tests use `app.inject` and the CLI's `serve` decides host and port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { audioPlugin, type AudioPluginOptions } from './audio.js';
import { calcPlugin, type CalcPluginOptions } from './calc.js';
import { chatPlugin, type ChatPluginOptions } from './chat.js';
import { diarizationPlugin, type DiarizationPluginOptions } from './diarization.js';
import { embeddingsPlugin, type EmbeddingsPluginOptions } from './embeddings.js';
import { installErrorHandler, publicError } from './errors.js';
import { installHardening, serverLimits } from './hardening.js';
import { imagesPlugin, type ImagesPluginOptions } from './images.js';
import { realtimePlugin, type RealtimePluginOptions } from './realtime.js';
import { resolveSecurityOptions, type SecurityOptions } from './options.js';
import { ServerMetrics } from './metrics.js';
import { installOpsRoutes, installRequestTracking, loggingOptions, Readiness, type LoggerSettings } from './ops.js';
import { SpeechModels } from './speech-models.js';
import { uiPlugin, type UiPluginOptions } from './ui.js';
import { jobsPlugin } from './jobs.js';
import { openJobBackend, resolveJobOptions, type JobBackend, type JobOptions } from '../jobs/index.js';
import type { WorkLimiter } from './work-limiter.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The speech models and their on-demand pool (absent when the speech routes are left out). */
    readonly speechModels: SpeechModels | undefined;
    /** The job backend behind /v1/jobs (its events, depth and reachability feed /ready and /metrics), when jobs are on. */
    readonly jobs: JobBackend | undefined;
  }
}

export interface AppOptions {
  /** fastify's logger: pino JSON lines with request ids, credentials redacted; true for info to stdout. @default false */
  logger?: boolean | LoggerSettings;
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
  /** Options of the live transcription WebSocket (/v1/realtime, OpenAI's Realtime protocol), or false to leave it out. @default {} */
  realtime?: RealtimePluginOptions | false;
  /** Options of the OpenAI-compatible chat route (/v1/chat/completions), or false to leave it out. @default {} (no models served) */
  chat?: ChatPluginOptions | false;
  /** Options of the OpenAI-compatible text embeddings route (/v1/embeddings), or false to leave it out. @default {} (the `models` and chat models are its models) */
  embeddings?: EmbeddingsPluginOptions | false;
  /** The web UI at `/` (the Vite build), or false to leave it out. @default {} (dist/ui of the package) */
  ui?: UiPluginOptions | false;
  /** Options of the speaker diarization route (/v1/audio/diarization), or false to leave it out. @default {} */
  diarization?: DiarizationPluginOptions | false;
  /** The job routes (/v1/jobs) and their store and worker, or false to leave them out. `backend` replaces the one the options would open. @default false */
  jobs?: (Partial<JobOptions> & { backend?: JobBackend }) | false;
}

export async function buildApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const security = resolveSecurityOptions(options.security);
  const app = Fastify({ ...loggingOptions(options.logger), ...serverLimits(security) });
  const metrics = new ServerMetrics();
  const readiness = new Readiness();
  // Before the plugins, so every route inherits one error format and the same rules.
  installErrorHandler(app);
  installRequestTracking(app, metrics, readiness);
  await installHardening(app, security);
  app.get('/health', { config: { rateLimit: false } }, async () => ({ status: 'ok' }));
  installOpsRoutes(app, metrics, readiness);
  const served = { models: options.models ?? [], allowRemoteModels: security.allowRemoteModels };
  if (options.images !== false) await app.register(imagesPlugin, { ...options.images });
  if (options.calc !== false) await app.register(calcPlugin, { ...served, ...options.calc });
  const speech = options.audio === false ? undefined : new SpeechModels({ models: options.models, ...options.audio, onLoad: (_key, seconds) => metrics.observeModelLoad(seconds) });
  app.decorate('speechModels', speech);
  if (speech) {
    app.addHook('onClose', () => speech.pool.close());
    metrics.trackModelPool(speech.pool);
    if (options.audio && options.audio.preload) preloadWhenReady(app, speech, readiness);
  }
  const chatModels = options.chat ? (options.chat.models ?? []) : [];
  if (options.audio !== false) await app.register(audioPlugin, { models: options.models, listedModels: chatModels, ...(options.diarization ? { diarization: options.diarization } : {}), ...options.audio, speech });
  if (options.realtime !== false) await app.register(realtimePlugin, { models: options.models, modelOptions: options.audio ? options.audio.modelOptions : undefined, ...options.realtime, ...(speech ? { speech } : {}) });
  if (options.chat !== false) await app.register(chatPlugin, { ...options.chat, listModels: options.audio === false });
  if (options.embeddings !== false) await app.register(embeddingsPlugin, { models: [...(options.models ?? []), ...chatModels], ...options.embeddings });
  if (options.ui !== false) await app.register(uiPlugin, { ...options.ui });
  if (options.diarization !== false) await app.register(diarizationPlugin, { ...options.diarization });
  if (!options.jobs) app.decorate('jobs', undefined);
  else await installJobs(app, options.jobs, { speech: speech ?? new SpeechModels({ models: options.models }), metrics, readiness, security, maxUploadBytes: options.audio ? options.audio.maxUploadBytes : undefined });
  return app;
}

/** The job routes over their backend: the app's speech models and work slots, its metrics and readiness. */
async function installJobs(
  app: FastifyInstance,
  options: Partial<JobOptions> & { backend?: JobBackend },
  shared: { speech: SpeechModels; metrics: ServerMetrics; readiness: Readiness; security: SecurityOptions; maxUploadBytes: number | undefined },
): Promise<void> {
  const { backend: given, ...jobOptions } = options;
  const resolved = resolveJobOptions(jobOptions);
  const { speech } = shared;
  const backend = given ?? (await openJobBackend({ ...resolved, useModel: speech.use.bind(speech), runWork: (fn) => underLimiter(app.workLimiter, fn) }));
  app.decorate('jobs', backend);
  // After the server has stopped accepting: running jobs get the grace, then are requeued.
  if (!given) app.addHook('onClose', () => backend.close(shared.security.shutdownGraceMs));
  backend.events.on('completed', (event) => shared.metrics.observeJob('succeeded', event.durationMs / 1000));
  backend.events.on('failed', (event) => shared.metrics.observeJob('failed', event.durationMs / 1000));
  shared.metrics.trackQueueDepth(async () => (await backend.depth()).queued);
  shared.readiness.add('queue', async () => (await backend.reachable()) || 'the job queue is not reachable');
  await app.register(jobsPlugin, { backend, speech, maxUploadBytes: shared.maxUploadBytes, allowPrivateWebhooks: resolved.allowPrivateWebhooks });
}

/** `preload`: the served models load once the app is ready (listening or injected); /ready fails until then. */
function preloadWhenReady(app: FastifyInstance, speech: SpeechModels, readiness: Readiness): void {
  let failure: string | undefined;
  readiness.add('models', () => {
    if (failure !== undefined) return `preloading failed: ${failure}`;
    const waiting = speech.notLoaded();
    return waiting.length === 0 || `loading: ${waiting.join(', ')}`;
  });
  app.addHook('onReady', async () => {
    speech.preload().then(
      () => app.log.info({ models: speech.served.length }, 'speech models preloaded'),
      (error: unknown) => {
        failure = publicError(error).message;
        app.log.error({ err: error }, 'preloading the speech models failed');
      },
    );
  });
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
