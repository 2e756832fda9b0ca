/**
 * The web UI (ui/, built by Vite into dist/ui/) at `/`: `GET /` answers index.html and `GET /assets/:name` the
 * built files, through @fastify/static. Only the files the build wrote are served: the list is read once at
 * start-up, so nothing else in the folder, no directory listing and no path from a request ever reaches the
 * disk. Both routes answer without the API key (the page asks for it and sends it with every API call) and
 * carry a Content-Security-Policy that allows this server's own scripts, styles and sockets and nothing else.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { MoxingError, quoteInput } from '../errors.js';

export interface UiPluginOptions {
  /** The built UI (index.html and assets/). @default dist/ui in the package */
  root?: string;
}

/** dist/ui beside src/ and dist/: the same path from src/server/ (tsx) and dist/server/ (the build). */
export const DEFAULT_UI_ROOT = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

/**
 * Scripts, styles, the audio worklet and the API only from this origin; the uploaded picture and audio play
 * from blob: URLs the page makes itself; no plugins, frames or foreign form targets.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export async function uiPlugin(app: FastifyInstance, options: UiPluginOptions): Promise<void> {
  const root = options.root ?? DEFAULT_UI_ROOT;
  const built = existsSync(join(root, 'index.html'));
  const assets = new Set(built ? builtAssets(join(root, 'assets')) : []);
  // Fastify encapsulates this hook to the plugin's own routes: the API's answers are not HTML and need no CSP.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', UI_CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
  if (built) await app.register(fastifyStatic, { root, serve: false, index: false, list: false, dotfiles: 'deny', acceptRanges: false });

  const page = { config: { publicAsset: true } };
  app.get('/', page, async (_request, reply: FastifyReply) => {
    if (!built) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The moxing web UI is not built on this server. Run `npm run build` in the moxing folder and restart `moxing serve`. The HTTP API under /v1/ works without it.\n');
    }
    // The page names the current build's hashed assets, so it is checked again on every load.
    return reply.sendFile('index.html', { maxAge: 0, cacheControl: true, lastModified: true, etag: true });
  });
  app.get<{ Params: { name: string } }>('/assets/:name', page, async (request, reply: FastifyReply) => {
    const name = request.params.name;
    if (!ASSET_NAME.test(name) || !assets.has(name)) throw new MoxingError('NOT_FOUND', `no file ${quoteInput(name, 60)} in the web UI`);
    // Hashed names: a file of a name never changes.
    return reply.sendFile(`assets/${name}`, { maxAge: '365d', immutable: true });
  });
}

/** The plain files the build wrote under assets/, by name. */
function builtAssets(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && ASSET_NAME.test(entry.name))
    .map((entry) => entry.name);
}
