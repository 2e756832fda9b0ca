/**
 * The embedded job backend: zero setup. Jobs live in SQLite (`<dataDir>/jobs.sqlite`, WAL, synchronous=FULL,
 * so a committed job survives a crash or a power cut) and an in-process worker runs them.
 *
 * Exactly once: a worker claims a job in a transaction (queued → running, runs + 1), and a run finishes it
 * only while the row is still running under that same run number; every state change is appended to
 * `job_log` in the same transaction. A job left running by a crashed process is requeued at the next start
 * and runs again from the beginning of its audio (a run keeps nothing between windows that could be resumed
 * without changing the transcript: each window is prompted with the text before it).
 *
 * Webhooks use an outbox: the delivery row is written in the transaction that finishes the job, and the
 * delivery loop retries it (exponential backoff with jitter) until delivered or out of attempts, across restarts.
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { TranscriptionResult } from '../asr/types.js';
import { MoxingError } from '../errors.js';
import { alive } from '../lock.js';
import { publicError } from '../server/errors.js';
import type { UseWhisper } from '../server/speech-models.js';
import { JobFiles, newJobId } from './files.js';
import type { JobOptions } from './options.js';
import { runTranscription } from './runner.js';
import { decodeCursor, encodeCursor, RunningJobs, type Running } from './running.js';
import { JOB_STATUSES, type JobBackend, type JobEvents, type JobListQuery, type JobPage, type JobQueueDepth, type JobRecord, type JobRequest, type JobStatus, type WebhookAttempt, type WebhookState } from './types.js';
import { webhookBody } from './view.js';
import { newMessageId, postWebhook, webhookDelayMs } from './webhooks.js';

export type EmbeddedJobOptions = Pick<JobOptions, 'dataDir' | 'jobConcurrency' | 'jobTtlMs' | 'allowPrivateWebhooks' | 'webhookMaxAttempts' | 'webhookBackoffMs' | 'webhookTimeoutMs'> & {
  readonly useModel: UseWhisper;
  /** Runs a job's model work; the server passes its global work limiter, so jobs and requests share the cores. @default fn() */
  readonly runWork?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** How often the worker, the webhook outbox and retention look for work besides the events that wake them. @default 1000 */
  readonly pollMs?: number;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  request TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  progress REAL NOT NULL DEFAULT 0,
  audio_seconds_done REAL NOT NULL DEFAULT 0,
  audio_seconds REAL,
  runs INTEGER NOT NULL DEFAULT 0,
  owner INTEGER,
  error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS job_log (job_id TEXT NOT NULL, run INTEGER NOT NULL, event TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS job_log_job ON job_log (job_id);
CREATE TABLE IF NOT EXISTS webhooks (
  job_id TEXT PRIMARY KEY,
  message_id TEXT NOT NULL,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  next_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_attempts (job_id TEXT NOT NULL, at INTEGER NOT NULL, status_code INTEGER, error TEXT, duration_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS webhook_attempts_job ON webhook_attempts (job_id);
`;

interface JobRow {
  seq: number;
  id: string;
  status: JobStatus;
  request: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress: number;
  audio_seconds_done: number;
  audio_seconds: number | null;
  runs: number;
  error: string | null;
}

export class EmbeddedJobs implements JobBackend {
  readonly events = new EventEmitter<JobEvents>();
  readonly files: JobFiles;
  private readonly db: Database.Database;
  private readonly running = new RunningJobs();
  private readonly delivering = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly options: EmbeddedJobOptions) {
    this.files = new JobFiles(options.dataDir);
    try {
      this.db = new Database(join(options.dataDir, 'jobs.sqlite'));
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (error) {
      throw new MoxingError('UNAVAILABLE', `cannot open the job database in ${options.dataDir}: ${(error as Error).message}`, { cause: error });
    }
    this.requeueOrphans();
    this.timer = setInterval(() => this.tick(), options.pollMs ?? 1000);
    this.timer.unref();
    queueMicrotask(() => this.tick());
  }

  async submit(request: JobRequest, audio: Buffer): Promise<JobRecord> {
    if (this.closing) throw new MoxingError('UNAVAILABLE', 'the server is shutting down; submit the job again shortly');
    const id = newJobId();
    await this.files.writeUpload(id, audio);
    try {
      const now = Date.now();
      this.db.transaction(() => {
        this.db.prepare('INSERT INTO jobs (id, status, request, created_at) VALUES (?, ?, ?, ?)').run(id, 'queued', JSON.stringify(request), now);
        this.log(id, 0, 'queued', now);
      })();
    } catch (error) {
      await this.files.remove(id);
      throw new MoxingError('UNAVAILABLE', `cannot store the job: ${(error as Error).message}`, { cause: error });
    }
    this.events.emit('queued', { id });
    queueMicrotask(() => this.pump());
    return this.read(id)!;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.read(id);
  }

  async list(query: JobListQuery): Promise<JobPage> {
    const before = query.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(query.cursor);
    const rows = this.db
      .prepare(`SELECT * FROM jobs WHERE seq < ? ${query.status ? 'AND status = ?' : ''} ORDER BY seq DESC LIMIT ?`)
      .all(...[before, ...(query.status ? [query.status] : []), query.limit + 1]) as JobRow[];
    const page = rows.slice(0, query.limit);
    return { jobs: page.map((r) => this.toRecord(r)), ...(rows.length > query.limit ? { nextCursor: encodeCursor(page[page.length - 1].seq) } : {}) };
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const now = Date.now();
    const changed = this.db.transaction(() => {
      const row = this.db.prepare('SELECT status, runs FROM jobs WHERE id = ?').get(id) as Pick<JobRow, 'status' | 'runs'> | undefined;
      if (!row || (row.status !== 'queued' && row.status !== 'running')) return false;
      this.db.prepare('UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?').run('cancelled', now, id);
      this.log(id, row.runs, 'cancelled', now);
      return true;
    })();
    if (changed) {
      this.running.stopRun(id, 'cancel');
      await this.files.remove(id);
      this.events.emit('cancelled', { id });
    }
    return this.read(id);
  }

  async result(id: string): Promise<TranscriptionResult> {
    const job = this.read(id);
    if (!job) throw new MoxingError('NOT_FOUND', 'no such job');
    if (job.status !== 'succeeded') throw new MoxingError('CONFLICT', `the job is ${job.status}; its result is there once it has succeeded`);
    return this.files.readResult(id);
  }

  async depth(): Promise<JobQueueDepth> {
    const counts = this.db.prepare("SELECT status, COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY status").all() as { status: JobStatus; n: number }[];
    const of = (status: JobStatus): number => counts.find((c) => c.status === status)?.n ?? 0;
    return { queued: of('queued'), running: of('running') };
  }

  async reachable(): Promise<boolean> {
    try {
      this.db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  /** The state changes of a job, oldest first: queued, started (per run), requeued, succeeded... */
  history(id: string): { run: number; event: string; at: number }[] {
    return this.db.prepare('SELECT run, event, at FROM job_log WHERE job_id = ? ORDER BY rowid').all(id) as { run: number; event: string; at: number }[];
  }

  async close(graceMs = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.timer);
    // Past the grace: stopped at the next window and put back in the queue, to run again at the next start.
    await this.running.drain(graceMs);
    this.db.close();
  }

  private tick(): void {
    if (this.closing) return;
    this.pump();
    this.deliverDue();
    this.sweep();
  }

  /** Starts queued jobs while slots are free. */
  private pump(): void {
    while (!this.closing && this.running.size < this.options.jobConcurrency) {
      const claimed = this.claim();
      if (!claimed) return;
      this.start(claimed);
    }
  }

  private claim(): JobRow | undefined {
    const now = Date.now();
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT * FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1").get() as JobRow | undefined;
      if (!row) return undefined;
      this.db.prepare("UPDATE jobs SET status = 'running', started_at = ?, runs = runs + 1, owner = ?, progress = 0, audio_seconds_done = 0 WHERE id = ?").run(now, process.pid, row.id);
      this.log(row.id, row.runs + 1, 'started', now);
      return { ...row, status: 'running' as const, started_at: now, runs: row.runs + 1 };
    })();
  }

  private start(row: JobRow): void {
    const controller = new AbortController();
    const request = JSON.parse(row.request) as JobRequest;
    const started = performance.now();
    this.events.emit('started', { id: row.id, run: row.runs, waitedMs: row.started_at! - row.created_at });
    const work = this.options.runWork ?? (<T>(fn: () => Promise<T>) => fn());
    const fail = (error: unknown): void => {
      const answer = publicError(error);
      if (this.finish(row, 'failed', { error: { code: answer.code, message: answer.message } })) this.events.emit('failed', { id: row.id, durationMs: performance.now() - started, code: answer.code });
    };
    const entry: Running = {
      controller,
      done: work(() =>
        runTranscription(request, this.files.uploadPath(row.id), {
          useModel: this.options.useModel,
          signal: controller.signal,
          checkpoints: this.files.checkpoints(row.id),
          onProgress: (p) => {
            this.db.prepare("UPDATE jobs SET progress = ?, audio_seconds_done = ?, audio_seconds = ? WHERE id = ? AND status = 'running' AND runs = ?").run(p.progress, p.audioSecondsDone, p.audioSeconds, row.id, row.runs);
            this.events.emit('progress', { id: row.id, progress: p.progress, audioSecondsDone: p.audioSecondsDone });
          },
        }),
      ).then(
        async (result) => {
          await this.files.writeResult(row.id, result);
          const audioSeconds = result.duration ?? 0;
          if (this.finish(row, 'succeeded', { audioSeconds })) this.events.emit('completed', { id: row.id, durationMs: performance.now() - started, audioSeconds });
          else await this.files.remove(row.id); // cancelled meanwhile
        },
        (error: unknown) => {
          if (entry.stop === 'cancel') return;
          if (entry.stop === 'shutdown') return this.requeue(row, 'shutdown');
          fail(error);
        },
      )
        // The result could not be written (disk full): the job fails rather than staying running for ever.
        .catch(fail)
        .finally(() => {
          this.running.delete(row.id);
          if (!this.closing) queueMicrotask(() => this.pump());
        }),
    };
    this.running.set(row.id, entry);
  }

  /** Ends run `row.runs` of a job; false when the job is no longer in that run (cancelled). */
  private finish(row: JobRow, status: 'succeeded' | 'failed', outcome: { audioSeconds?: number; error?: { code: string; message: string } }): boolean {
    const now = Date.now();
    const finished = this.db.transaction(() => {
      const changed = this.db
        .prepare(`UPDATE jobs SET status = ?, finished_at = ?, error = ?, owner = NULL${status === 'succeeded' ? ', progress = 100, audio_seconds_done = ?, audio_seconds = ?' : ''} WHERE id = ? AND status = 'running' AND runs = ?`)
        .run(...[status, now, outcome.error ? JSON.stringify(outcome.error) : null, ...(status === 'succeeded' ? [outcome.audioSeconds, outcome.audioSeconds] : []), row.id, row.runs]);
      if (changed.changes !== 1) return false;
      this.log(row.id, row.runs, status, now);
      const request = JSON.parse(row.request) as JobRequest;
      if (request.webhook) {
        this.db.prepare('INSERT OR REPLACE INTO webhooks (job_id, message_id, body, state, next_at) VALUES (?, ?, ?, ?, ?)').run(row.id, newMessageId(), webhookBody(this.read(row.id)!), 'pending', now);
      }
      return true;
    })();
    if (finished) {
      // The audio is not needed any more; the result stays until the retention time.
      void this.files.removeUpload(row.id);
      queueMicrotask(() => this.deliverDue());
    }
    return finished;
  }

  private requeue(row: JobRow, reason: 'restart' | 'shutdown'): void {
    const now = Date.now();
    this.db.transaction(() => {
      const changed = this.db.prepare("UPDATE jobs SET status = 'queued', owner = NULL, progress = 0, audio_seconds_done = 0 WHERE id = ? AND status = 'running' AND runs = ?").run(row.id, row.runs);
      if (changed.changes === 1) this.log(row.id, row.runs, `requeued:${reason}`, now);
    })();
    this.events.emit('requeued', { id: row.id, reason });
  }

  /** Jobs a crashed process left running: queued again (they restart from the beginning). */
  private requeueOrphans(): void {
    const rows = this.db.prepare("SELECT * FROM jobs WHERE status = 'running'").all() as (JobRow & { owner: number | null })[];
    for (const row of rows) if (row.owner === null || row.owner === process.pid || !alive(row.owner)) this.requeue(row, 'restart');
  }

  private deliverDue(): void {
    if (this.closing) return;
    const due = this.db.prepare("SELECT w.*, j.request FROM webhooks w JOIN jobs j ON j.id = w.job_id WHERE w.state = 'pending' AND w.next_at <= ?").all(Date.now()) as {
      job_id: string; message_id: string; body: string; request: string;
    }[];
    for (const row of due) {
      if (this.delivering.has(row.job_id)) continue;
      this.delivering.add(row.job_id);
      const { webhook } = JSON.parse(row.request) as JobRequest;
      void postWebhook({ url: webhook!.url, secret: webhook!.secret, messageId: row.message_id, body: row.body }, { allowPrivate: this.options.allowPrivateWebhooks, timeoutMs: this.options.webhookTimeoutMs })
        .then((attempt) => this.recordAttempt(row.job_id, attempt))
        .finally(() => this.delivering.delete(row.job_id));
    }
  }

  private recordAttempt(id: string, attempt: WebhookAttempt): void {
    if (!this.db.open) return;
    const attempts = (this.db.prepare('SELECT COUNT(*) AS n FROM webhook_attempts WHERE job_id = ?').get(id) as { n: number }).n + 1;
    const delayMs = webhookDelayMs(attempts, this.options.webhookBackoffMs);
    const state = this.db.transaction((): WebhookState => {
      this.db.prepare('INSERT INTO webhook_attempts (job_id, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?)').run(id, attempt.at, attempt.statusCode ?? null, attempt.error ?? null, attempt.durationMs);
      const next: WebhookState = attempt.error === undefined ? 'delivered' : attempts >= this.options.webhookMaxAttempts ? 'failed' : 'pending';
      this.db.prepare('UPDATE webhooks SET state = ?, next_at = ? WHERE job_id = ?').run(next, Date.now() + delayMs, id);
      return next;
    })();
    this.events.emit('webhook', { id, attempt, state });
    if (state === 'pending') setTimeout(() => this.deliverDue(), delayMs).unref();
  }

  /** Retention: finished jobs older than jobTtlMs go, with their files (not while a webhook is pending). */
  sweep(now = Date.now()): number {
    if (this.options.jobTtlMs <= 0 || !this.db.open) return 0;
    const old = this.db
      .prepare("SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at <= ? AND id NOT IN (SELECT job_id FROM webhooks WHERE state = 'pending')")
      .all(now - this.options.jobTtlMs) as { id: string }[];
    if (old.length === 0) return 0;
    this.db.transaction(() => {
      for (const { id } of old) for (const table of ['jobs WHERE id', 'job_log WHERE job_id', 'webhooks WHERE job_id', 'webhook_attempts WHERE job_id']) this.db.prepare(`DELETE FROM ${table} = ?`).run(id);
    })();
    for (const { id } of old) void this.files.remove(id);
    return old.length;
  }

  private log(id: string, run: number, event: string, at: number): void {
    this.db.prepare('INSERT INTO job_log (job_id, run, event, at) VALUES (?, ?, ?, ?)').run(id, run, event, at);
  }

  private read(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row && this.toRecord(row);
  }

  private toRecord(row: JobRow): JobRecord {
    const request = JSON.parse(row.request) as JobRequest;
    let webhook: JobRecord['webhook'];
    if (request.webhook) {
      const delivery = this.db.prepare('SELECT state FROM webhooks WHERE job_id = ?').get(row.id) as { state: WebhookState } | undefined;
      const attempts = (this.db.prepare('SELECT at, status_code, error, duration_ms FROM webhook_attempts WHERE job_id = ? ORDER BY rowid').all(row.id) as { at: number; status_code: number | null; error: string | null; duration_ms: number }[]).map(
        (a): WebhookAttempt => ({ at: a.at, durationMs: a.duration_ms, ...(a.status_code !== null ? { statusCode: a.status_code } : {}), ...(a.error !== null ? { error: a.error } : {}) }),
      );
      webhook = { state: delivery?.state ?? 'pending', attempts };
    }
    return {
      id: row.id,
      status: JOB_STATUSES.includes(row.status) ? row.status : 'failed',
      request,
      createdAt: row.created_at,
      ...(row.started_at !== null ? { startedAt: row.started_at } : {}),
      ...(row.finished_at !== null ? { finishedAt: row.finished_at } : {}),
      progress: row.progress,
      audioSecondsDone: row.audio_seconds_done,
      ...(row.audio_seconds !== null ? { audioSeconds: row.audio_seconds } : {}),
      runs: row.runs,
      ...(row.error !== null ? { error: JSON.parse(row.error) as { code: string; message: string } } : {}),
      ...(webhook ? { webhook } : {}),
    };
  }
}
