/**
 * The HTTP app: one fastify instance with a plugin per capability. `buildApp` never listens, so tests use
 * `app.inject` and the CLI's `serve` decides host and port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { calcPlugin, type CalcPluginOptions } from './calc.js';
import { installErrorHandler } from './errors.js';
import { imagesPlugin, type ImagesPluginOptions } from './images.js';

export interface AppOptions {
  /** fastify's logger. @default false */
  logger?: boolean;
  /** Options of the image routes, or false to leave them out. @default {} */
  images?: ImagesPluginOptions | false;
  /** Options of the transformer-math routes, or false to leave them out. @default {} */
  calc?: CalcPluginOptions | false;
}

export async function buildApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  // Before the plugins, so every route inherits one error format.
  installErrorHandler(app);
  app.get('/health', async () => ({ status: 'ok' }));
  if (options.images !== false) await app.register(imagesPlugin, options.images ?? {});
  if (options.calc !== false) await app.register(calcPlugin, options.calc ?? {});
  return app;
}
