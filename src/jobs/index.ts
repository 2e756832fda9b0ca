/** jobs/: durable background transcription (SQLite in-process by default, BullMQ on Redis to scale out). */
export type { JobBackend, JobEvents, JobListQuery, JobPage, JobQueueDepth, JobRecord, JobRequest, JobStatus, WebhookAttempt, WebhookState } from './types.js';
export { JOB_STATUSES } from './types.js';
export { DEFAULT_JOBS, defaultDataDir, resolveJobOptions } from './options.js';
export type { JobOptions } from './options.js';
export { EmbeddedJobs } from './embedded.js';
export type { EmbeddedJobOptions } from './embedded.js';
export type { BullJobOptions } from './bullmq.js';
export { JobFiles, JOB_ID, newJobId, writeDurably } from './files.js';
export { runTranscription } from './runner.js';
export { publicJob, webhookBody } from './view.js';
export { signWebhook, webhookKey, isPublicAddress, checkWebhookUrl, postWebhook, webhookDelayMs, resolveWebhookAddress } from './webhooks.js';
import type { BullJobOptions } from './bullmq.js';
import { EmbeddedJobs } from './embedded.js';
import { MoxingError } from '../errors.js';
import type { JobOptions } from './options.js';
import type { JobBackend } from './types.js';

/**
 * The backend `options.queue` names: BullMQ on that Redis (BullMQ loaded only then), or the embedded SQLite
 * store and worker. With a queue, jobConcurrency 0 serves the API only and leaves the work to `moxing worker`s.
 */
export async function openJobBackend(options: JobOptions & Pick<BullJobOptions, 'useModel' | 'runWork' | 'lockDurationMs' | 'stalledIntervalMs'>): Promise<JobBackend> {
  if (options.queue === undefined) {
    if (options.jobConcurrency < 1) throw new MoxingError('BAD_ARGUMENT', 'jobConcurrency 0 (no worker here) needs a queue that other workers serve (--queue redis://...)');
    return new EmbeddedJobs(options);
  }
  const { BullJobs } = await import('./bullmq.js');
  return BullJobs.open({ ...options, queue: options.queue });
}
