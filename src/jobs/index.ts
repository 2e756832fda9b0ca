/** jobs/: durable background transcription (SQLite in-process by default, BullMQ on Redis to scale out). */
export type { JobBackend, JobEvents, JobListQuery, JobPage, JobQueueDepth, JobRecord, JobRequest, JobStatus, WebhookAttempt, WebhookState } from './types.js';
export { JOB_STATUSES } from './types.js';
export { DEFAULT_JOBS, defaultDataDir, resolveJobOptions } from './options.js';
export type { JobOptions } from './options.js';
export { EmbeddedJobs } from './embedded.js';
export type { EmbeddedJobOptions } from './embedded.js';
export { JobFiles, JOB_ID, newJobId, writeDurably } from './files.js';
export { runTranscription } from './runner.js';
export { publicJob, webhookBody } from './view.js';
export { signWebhook, webhookKey, isPublicAddress, checkWebhookUrl, postWebhook, webhookDelayMs, resolveWebhookAddress } from './webhooks.js';
import type { WhisperLoader } from '../server/whisper-loader.js';
import { EmbeddedJobs } from './embedded.js';
import { MoxingError } from '../errors.js';
import type { JobOptions } from './options.js';
import type { JobBackend } from './types.js';

/** The backend `options.queue` names: BullMQ on that Redis, or the embedded SQLite store and worker. */
export async function openJobBackend(options: JobOptions & { load: WhisperLoader; runWork?: <T>(fn: () => Promise<T>) => Promise<T> }): Promise<JobBackend> {
  if (options.queue === undefined) return new EmbeddedJobs(options);
  throw new MoxingError('BAD_ARGUMENT', 'a Redis queue is not supported by this build');
}
