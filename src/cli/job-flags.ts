/**
 * The job flags `moxing serve` and `moxing worker` share, declared from a table keyed by JobOptions' field
 * names (src/cli/flags.ts): `dataDir` → --data-dir, and so on. Defaults come from DEFAULT_JOBS.
 */
import { MoxingError } from '../errors.js';
import type { Flag } from './flags.js';
import { parseInteger } from './options.js';

const UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `7d`, `12h`, `30m`, `90s`, `500ms` or a plain number of ms. */
export function parseDurationMs(flag: string) {
  return (value: string): number => {
    const m = /^(\d{1,12})(ms|s|m|h|d)?$/.exec(value.trim());
    if (!m) throw new MoxingError('BAD_ARGUMENT', `${flag} takes a duration such as 7d, 12h, 30m, 90s or a number of ms (0: keep for ever), got "${value}"`);
    return Number(m[1]) * UNITS_MS[(m[2] ?? 'ms') as keyof typeof UNITS_MS];
  };
}

function parseQueue(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) throw new MoxingError('BAD_ARGUMENT', `--queue takes redis://HOST:PORT[/DB] (or rediss://), got "${value}"`);
  return value;
}

export const DATA_DIR_FLAG: Flag = { field: 'dataDir', value: '<dir>', description: 'folder of job uploads, results and the embedded job database; with --queue, a folder every worker shares (default: $MOXING_DATA, else $XDG_DATA_HOME/moxing or ~/.local/share/moxing)' };
export const QUEUE_FLAG: Flag = { field: 'queue', value: '<redis-url>', description: 'run jobs on BullMQ in this Redis (redis://HOST:PORT) instead of the embedded SQLite store', parse: parseQueue };
export const CONCURRENCY_FLAG: Flag = { field: 'jobConcurrency', value: '<n>', description: 'jobs this process runs at once; with --queue, 0 serves the API and leaves the work to `moxing worker`s', parse: parseInteger('--job-concurrency', 0, 64) };
export const PRIVATE_WEBHOOKS_FLAG: Flag = { field: 'allowPrivateWebhooks', description: 'let webhooks call loopback, private and link-local addresses (off: refused, against SSRF)' };

/** `moxing serve`'s job flags. */
export const SERVE_JOB_FLAGS: readonly Flag[] = [
  DATA_DIR_FLAG,
  { field: 'jobTtlMs', value: '<duration>', description: 'delete finished jobs and their files this long after they finish: 7d, 12h, 30m, 90s or ms; 0 keeps them', parse: parseDurationMs('--job-ttl-ms'), aliases: ['--job-ttl'] },
  CONCURRENCY_FLAG,
  PRIVATE_WEBHOOKS_FLAG,
  QUEUE_FLAG,
];

/** `moxing worker`'s job flags: the queue's, plus BullMQ's lock timing (how soon a dead worker's job moves on). */
export const WORKER_JOB_FLAGS: readonly Flag[] = [
  { ...QUEUE_FLAG, description: 'the Redis of the job queue (redis://HOST:PORT), as given to moxing serve --queue' },
  DATA_DIR_FLAG,
  CONCURRENCY_FLAG,
  PRIVATE_WEBHOOKS_FLAG,
  { field: 'lockDurationMs', value: '<ms>', description: 'a worker\'s hold on a job, renewed while it runs; a job whose worker died goes to another after this (default: 30000)', parse: parseInteger('--lock-duration-ms', 100) },
  { field: 'stalledIntervalMs', value: '<ms>', description: 'how often workers look for jobs whose worker died (default: 30000)', parse: parseInteger('--stalled-interval-ms', 100) },
];
