/**
 * Redis connections for the BullMQ backend, through ioredis (the driver BullMQ is built on). The URL is checked
 * here first, so a mistyped `--queue` is a clear error rather than a connection that retries forever.
 */
import { Redis } from 'ioredis';
import { MoxingError } from '../errors.js';

/** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS), refused with a clear error otherwise. */
export function checkRedisUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MoxingError('BAD_ARGUMENT', `a queue URL is redis://HOST:PORT[/DB], got "${text}"`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new MoxingError('BAD_ARGUMENT', `a queue URL is redis://HOST:PORT[/DB], got "${text}"`);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new MoxingError('BAD_ARGUMENT', `the Redis database in "${text}" must be a whole number`);
  return text;
}

/**
 * A connection of its own. BullMQ's queues and workers need `maxRetriesPerRequest: null` (their blocking reads
 * wait out a Redis restart); the job records' connection (`forCommands`) fails a command after a few retries, so
 * an API request or a readiness check is answered instead of hanging.
 */
export function openRedis(url: string, forCommands = false): Redis {
  const client = new Redis(checkRedisUrl(url), { maxRetriesPerRequest: forCommands ? 2 : null, connectTimeout: 5000 });
  // A lost Redis is reconnected by ioredis; without a listener its 'error' would end the process.
  client.on('error', () => undefined);
  return client;
}
