/**
 * The HTTP app: one fastify instance with a plugin per capability. `buildApp` never listens, so tests use
 * `app.inject` and the CLI's `serve` decides host and port.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { imagesPlugin, type ImagesPluginOptions } from './images.js';

export interface AppOptions {
  /** fastify's logger. @default false */
  logger?: boolean;
  /** Options of the image routes, or false to leave them out. @default {} */
  images?: ImagesPluginOptions | false;
}

export async function buildApp(options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false });
  if (options.images !== false) await app.register(imagesPlugin, options.images ?? {});
  return app;
}
