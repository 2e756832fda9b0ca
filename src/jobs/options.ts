/** The options of the job system, with one defaults object the CLI's help reads. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { withDefaults } from '../defaults.js';

export interface JobOptions {
  /** Where uploads, results and the embedded database live; shared by every worker of a Redis queue. @default $MOXING_DATA, else $XDG_DATA_HOME/moxing, else ~/.local/share/moxing */
  dataDir: string;
  /** Finished jobs (and their files) are deleted this long after they finish; 0 keeps them. @default 7 days */
  jobTtlMs: number;
  /** Jobs one process runs at once. @default 1 */
  jobConcurrency: number;
  /** Let webhooks reach loopback, private, link-local and other non-public addresses. @default false */
  allowPrivateWebhooks: boolean;
  /** `redis://HOST:PORT[/DB]` puts the jobs on BullMQ; none keeps them in the embedded SQLite store. @default undefined */
  queue: string | undefined;
  /** Webhook POSTs per outcome before it is given up. @default 8 */
  webhookMaxAttempts: number;
  /** The first retry's delay; each next one doubles, with jitter (a random half of it). @default 1000 */
  webhookBackoffMs: number;
  /** Time a receiver has to answer one POST. @default 10000 */
  webhookTimeoutMs: number;
}

export const DEFAULT_JOBS: Readonly<Omit<JobOptions, 'dataDir'>> = Object.freeze({
  jobTtlMs: 7 * 24 * 3600 * 1000,
  jobConcurrency: 1,
  allowPrivateWebhooks: false,
  queue: undefined,
  webhookMaxAttempts: 8,
  webhookBackoffMs: 1000,
  webhookTimeoutMs: 10_000,
});

/** The per-user data folder: $MOXING_DATA, else $XDG_DATA_HOME/moxing, else ~/.local/share/moxing. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MOXING_DATA) return resolve(env.MOXING_DATA);
  return join(env.XDG_DATA_HOME ? resolve(env.XDG_DATA_HOME) : join(homedir(), '.local', 'share'), 'moxing');
}

export function resolveJobOptions(options: Partial<JobOptions> = {}, env: NodeJS.ProcessEnv = process.env): JobOptions {
  return withDefaults<JobOptions>({ ...DEFAULT_JOBS, dataDir: defaultDataDir(env) }, options);
}
