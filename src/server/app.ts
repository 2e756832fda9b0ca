/**
 * The HTTP app: one fastify instance with the hardening rules installed first and a plugin per capability.
 * `buildApp` never listens, so tests use `app.inject` and the CLI's `serve` decides host and port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { audioPlugin, type AudioPluginOptions } from './audio.js';
import { calcPlugin, type CalcPluginOptions } from './calc.js';
import { diarizationPlugin, type DiarizationPluginOptions } from './diarization.js';
import { installErrorHandler } from './errors.js';
import { installHardening, serverLimits } from './hardening.js';
import { imagesPlugin, type ImagesPluginOptions } from './images.js';
import { resolveSecurityOptions, type SecurityOptions } from './options.js';

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
  /** Options of the speaker diarization route (/v1/audio/diarization), or false to leave it out. @default {} */
  diarization?: DiarizationPluginOptions | false;
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
  if (options.audio !== false) await app.register(audioPlugin, { models: options.models, ...(options.diarization ? { diarization: options.diarization } : {}), ...options.audio });
  if (options.diarization !== false) await app.register(diarizationPlugin, { ...options.diarization });
  return app;
}
