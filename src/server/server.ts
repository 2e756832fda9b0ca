/**
 * `createServer`: the app, a host and port, and a graceful close, the one path `moxing serve` and a library
 * user both take. Closing stops accepting connections, lets running requests finish for `shutdownGraceMs`,
 * then cuts what is left (a slow sender), and unloads the models.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from './app.js';
import { MoxingError } from '../errors.js';

export interface ServerOptions extends AppOptions {
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 8080 */
  port?: number;
}

export const DEFAULT_SERVER = Object.freeze({ host: '127.0.0.1', port: 8080 });

export interface MoxingServer {
  /** The fastify app (routes, `inject`, decorations such as metrics and readiness). */
  readonly app: FastifyInstance;
  /** Starts listening; resolves to the address, e.g. `http://127.0.0.1:8080`. */
  listen(): Promise<string>;
  /** Stops gracefully (see the file header); safe to call more than once. */
  close(): Promise<void>;
}

export async function createServer(options: ServerOptions = {}): Promise<MoxingServer> {
  const { host = DEFAULT_SERVER.host, port = DEFAULT_SERVER.port, ...appOptions } = options;
  const app = await buildApp(appOptions);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const cut = setTimeout(() => app.server.closeAllConnections(), app.security.shutdownGraceMs);
      cut.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
      }
    })();
    return closing;
  };
  return {
    app,
    close,
    async listen() {
      try {
        return await app.listen({ host, port });
      } catch (error) {
        await app.close();
        throw listenError(error, host, port);
      }
    },
  };
}

/** Why listening failed, in words an operator can act on. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') return new MoxingError('UNAVAILABLE', `port ${port} on ${host} is already in use; stop the other server or choose another --port`, { cause: error });
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new MoxingError('BAD_ARGUMENT', `cannot listen on ${where}: --host is not an address of this machine`, { cause: error });
  if (code === 'EACCES') return new MoxingError('BAD_ARGUMENT', `no permission to listen on ${where}; ports below 1024 need privileges, choose another --port`, { cause: error });
  return error;
}
