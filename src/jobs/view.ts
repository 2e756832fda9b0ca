/** How a job is shown to clients (the routes, the webhook body): snake_case as OpenAI's API, no secret, no path. */
import { publicModelName } from '../server/models.js';
import type { JobRecord } from './types.js';

export function resultUrl(job: JobRecord): string | null {
  return job.status === 'succeeded' ? `${job.request.baseUrl}/v1/jobs/${job.id}/result` : null;
}

export function publicJob(job: JobRecord): Record<string, unknown> {
  const seconds = (ms: number | undefined): number | null => (ms === undefined ? null : Math.floor(ms / 1000));
  const finished = job.finishedAt ?? Date.now();
  return {
    id: job.id,
    object: 'transcription.job',
    status: job.status,
    model: publicModelName(job.request.model),
    task: job.request.task,
    progress: Math.round(job.progress * 10) / 10,
    audio_seconds_done: job.audioSecondsDone,
    audio_seconds: job.audioSeconds ?? null,
    created_at: seconds(job.createdAt),
    started_at: seconds(job.startedAt),
    finished_at: seconds(job.finishedAt),
    timings: {
      queued_ms: job.startedAt !== undefined ? job.startedAt - job.createdAt : job.status === 'queued' ? Date.now() - job.createdAt : null,
      running_ms: job.startedAt !== undefined ? finished - job.startedAt : null,
    },
    runs: job.runs,
    error: job.error ?? null,
    result_url: resultUrl(job),
    webhook: job.request.webhook
      ? {
          url: job.request.webhook.url,
          state: job.webhook?.state ?? 'pending',
          attempts: (job.webhook?.attempts ?? []).map((a) => ({ at: a.at / 1000, status_code: a.statusCode ?? null, error: a.error ?? null, duration_ms: a.durationMs })),
        }
      : null,
  };
}

/** The body of the outcome webhook. */
export function webhookBody(job: JobRecord): string {
  return JSON.stringify({
    type: `job.${job.status}`,
    id: job.id,
    status: job.status,
    result_url: resultUrl(job),
    error: job.error ?? null,
    audio_seconds: job.audioSeconds ?? null,
    finished_at: job.finishedAt !== undefined ? Math.floor(job.finishedAt / 1000) : null,
  });
}
