/** A real Redis for the tests: Debian's redis-server on a free loopback port with a temporary folder, stopped after. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { openRedis } from '../../src/jobs/redis-connection.js';

export interface TestRedis {
  readonly url: string;
  readonly process: ChildProcess;
  /** Runs one command on a connection of its own. */
  command(name: string, ...args: unknown[]): Promise<unknown>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedis(dir: string): Promise<TestRedis> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const connection = openRedis(url, true);
  for (let i = 0; ; i++) {
    try {
      if ((await connection.ping()) === 'PONG') break;
    } catch (error) {
      if (i > 100 || child.exitCode !== null) throw new Error(`redis-server did not start: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    process: child,
    command: (name, ...args) => connection.call(name, ...args.map(String)),
    stop: async () => {
      connection.disconnect();
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}
