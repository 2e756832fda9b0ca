/**
 * A Redis connection for BullMQ: the RESP2 protocol over one TCP socket, shaped as the Bun `RedisClient` that
 * BullMQ 6 adapts (`send(command, args)`, `connected`, `onconnect`/`onclose`, `duplicate()`), so BullMQ runs
 * here without its optional Redis driver peers (ioredis, node-redis), which this package does not install.
 * Replies arrive in request order on one connection, so each pending send is a FIFO entry; BullMQ's blocking
 * reads use duplicated connections of their own.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { MoxingError } from '../errors.js';

type Reply = string | number | null | Error | Reply[];

interface Target {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly db: number;
}

/** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
export function parseRedisUrl(text: string): Target {
  const url = new URL(text);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new MoxingError('BAD_ARGUMENT', `a queue URL is redis://HOST:PORT[/DB], got "${text}"`);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new MoxingError('BAD_ARGUMENT', `the Redis database in "${text}" must be a whole number`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 6379,
    tls: url.protocol === 'rediss:',
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    db,
  };
}

export class RespConnection {
  connected = false;
  onconnect: () => void = () => undefined;
  onclose: (error?: Error) => void = () => undefined;
  onerror: (error: Error) => void = () => undefined;
  private socket: Socket | undefined;
  private connecting: Promise<void> | undefined;
  private readonly pending: { resolve: (reply: unknown) => void; reject: (error: Error) => void }[] = [];
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly target: Target) {}

  static fromUrl(url: string): RespConnection {
    return new RespConnection(parseRedisUrl(url));
  }

  get url(): string {
    return `${this.target.tls ? 'rediss' : 'redis'}://${this.target.host}:${this.target.port}/${this.target.db}`;
  }

  connect(): Promise<void> {
    this.connecting ??= new Promise<void>((resolve, reject) => {
      const { host, port, tls } = this.target;
      const socket = tls ? tlsConnect({ host, port, servername: host }) : connect({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        this.connected = true;
        void this.handshake().then(() => {
          this.onconnect();
          resolve();
        }, reject);
      });
      socket.on('data', (chunk: Buffer) => this.receive(chunk));
      socket.on('error', (error) => {
        this.onerror(error);
        if (!this.connected) reject(error);
      });
      socket.on('close', () => this.closed(new Error('Connection closed')));
    });
    return this.connecting;
  }

  send(command: string, args: readonly unknown[]): Promise<unknown> {
    if (!this.socket || this.socket.destroyed) {
      if (this.connecting && !this.connected && this.socket?.destroyed) return Promise.reject(new Error('Connection closed'));
      return this.connect().then(() => this.send(command, args));
    }
    return this.write([command, ...args]);
  }

  close(): void {
    this.socket?.end();
    this.socket?.destroy();
  }

  disconnect(): void {
    this.close();
  }

  async duplicate(): Promise<RespConnection> {
    return new RespConnection(this.target);
  }

  private async handshake(): Promise<void> {
    const { username, password, db } = this.target;
    if (password !== undefined) await this.write(username !== undefined ? ['AUTH', username, password] : ['AUTH', password]);
    if (db !== 0) await this.write(['SELECT', String(db)]);
  }

  private write(parts: readonly unknown[]): Promise<unknown> {
    const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)];
    for (const part of parts) {
      const bytes = Buffer.isBuffer(part) ? part : part instanceof Uint8Array ? Buffer.from(part) : Buffer.from(String(part));
      chunks.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket!.write(Buffer.concat(chunks));
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const parsed = parseReply(this.buffer, 0);
      if (!parsed) return;
      this.buffer = this.buffer.subarray(parsed.end);
      const waiter = this.pending.shift();
      if (!waiter) continue;
      if (parsed.reply instanceof Error) waiter.reject(parsed.reply);
      else waiter.resolve(parsed.reply);
    }
  }

  private closed(error: Error): void {
    const wasConnected = this.connected;
    this.connected = false;
    this.connecting = undefined;
    this.socket = undefined;
    this.buffer = Buffer.alloc(0);
    for (const waiter of this.pending.splice(0)) waiter.reject(error);
    if (wasConnected) this.onclose(error);
  }
}

/** One RESP2 reply from `buf` at `at`, or undefined when it has not fully arrived. */
function parseReply(buf: Buffer, at: number): { reply: Reply; end: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', at);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, end: next };
    case '-':
      return { reply: new Error(line), end: next };
    case ':':
      return { reply: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { reply: buf.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, end);
        if (!item) return undefined;
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new MoxingError('UNAVAILABLE', `the Redis server sent a reply this client cannot read (type "${type}")`);
  }
}
