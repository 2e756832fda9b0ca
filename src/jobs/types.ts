/**
 * Jobs: long audio transcribed in the background. The records, the backend interface the HTTP routes and the
 * CLI talk to, and the events a backend emits (for metrics and logs). Two backends implement it: SQLite with
 * an in-process worker (embedded.ts) and BullMQ on Redis with workers anywhere (bullmq.ts).
 */
import type { EventEmitter } from 'node:events';
import type { TranscriptionResult } from '../asr/types.js';
import type { SpeechTask, TranscriptionFields } from '../server/audio.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** What a job transcribes and how: the request's validated fields, stored with the job. */
export interface JobRequest {
  /** The model reference to load, as given at start-up (may be a path: never shown). */
  readonly model: string;
  readonly task: SpeechTask;
  readonly fields: TranscriptionFields;
  /** Where the outcome is posted, and the Standard Webhooks secret that signs it. */
  readonly webhook?: { readonly url: string; readonly secret: string };
  /** The server's URL as the client called it (`http://host:port`), for the result URL in answers and webhooks. */
  readonly baseUrl: string;
}

/** One POST of a webhook. */
export interface WebhookAttempt {
  /** When it started, ms since the epoch. */
  readonly at: number;
  /** The receiver's HTTP status, when it answered. */
  readonly statusCode?: number;
  /** Why no 2xx came back (refused address, timeout, connection error, status). */
  readonly error?: string;
  readonly durationMs: number;
}

export type WebhookState = 'pending' | 'delivered' | 'failed';

export interface JobRecord {
  /** Random and unguessable: `job_` and 22 base64url characters (128 bits). */
  readonly id: string;
  readonly status: JobStatus;
  readonly request: JobRequest;
  /** ms since the epoch. */
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** 0 to 100. */
  readonly progress: number;
  readonly audioSecondsDone: number;
  /** The audio's length, once decoded. */
  readonly audioSeconds?: number;
  /** Runs started (more than one after a crash or a lost worker: each restarts from the beginning). */
  readonly runs: number;
  /** Why it failed, as a client may be told. */
  readonly error?: { readonly code: string; readonly message: string };
  readonly webhook?: { readonly state: WebhookState; readonly attempts: readonly WebhookAttempt[] };
}

export interface JobListQuery {
  readonly status?: JobStatus;
  readonly limit: number;
  /** Opaque, from the previous page's `nextCursor`. */
  readonly cursor?: string;
}

export interface JobPage {
  /** Newest first. */
  readonly jobs: readonly JobRecord[];
  /** Present when more jobs follow. */
  readonly nextCursor?: string;
}

/** What the backend emits, for metrics and logs. Durations in ms, audio in seconds. */
export interface JobEvents {
  queued: [{ id: string }];
  started: [{ id: string; run: number; waitedMs: number }];
  progress: [{ id: string; progress: number; audioSecondsDone: number }];
  completed: [{ id: string; durationMs: number; audioSeconds: number }];
  failed: [{ id: string; durationMs: number; code: string }];
  cancelled: [{ id: string }];
  requeued: [{ id: string; reason: 'restart' | 'shutdown' | 'stalled' }];
  webhook: [{ id: string; attempt: WebhookAttempt; state: WebhookState }];
}

export interface JobQueueDepth {
  readonly queued: number;
  readonly running: number;
}

/** The job API the routes use; they do not know which backend is behind it. */
export interface JobBackend {
  readonly events: EventEmitter<JobEvents>;
  /** Stores the audio (fsync'd) and the job (committed), then queues it; resolves only once both are durable. */
  submit(request: JobRequest, audio: Buffer): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | undefined>;
  list(query: JobListQuery): Promise<JobPage>;
  /** Cancels a queued or running job (a running one stops decoding); a finished one is answered as it is. */
  cancel(id: string): Promise<JobRecord | undefined>;
  /** The transcript of a succeeded job. */
  result(id: string): Promise<TranscriptionResult>;
  depth(): Promise<JobQueueDepth>;
  /** Whether the store (and queue) answers: for /ready. */
  reachable(): Promise<boolean>;
  /**
   * Stops taking jobs; a running job gets `graceMs` to finish, then is stopped and left queued (a later start
   * runs it again). Never loses a job.
   */
  close(graceMs?: number): Promise<void>;
}
