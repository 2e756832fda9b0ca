/**
 * The BullMQ backend: the same job API with the queue on Redis, so workers run in other processes and on other
 * machines (`moxing worker`). BullMQ carries the work: a job is handed to one worker at a time, and the job of
 * a worker that dies (its lock not renewed) is moved back to the queue by another worker's stalled-job check.
 * The job records (status, progress, timings, webhook attempts, a log of every state change) are Redis hashes
 * and lists of our own, changed only by Lua scripts, so "finish run N" happens once: a run finishes a job only
 * while the record is still running under its own run number. Uploads and results are files in the shared
 * `--data-dir`.
 *
 * Webhooks ride a second BullMQ queue with BullMQ's exponential backoff and jitter; every attempt is appended
 * to the job's record. Redis must persist (AOF, `appendfsync always`) for a job answered 201 to survive a
 * Redis crash.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TranscriptionResult } from '../asr/types.js';
import { MoxingError } from '../errors.js';
import { publicError } from '../server/errors.js';
import type { UseWhisper } from '../server/speech-models.js';
import { JobFiles, newJobId } from './files.js';
import type { JobOptions } from './options.js';
import { openRedis } from './redis-connection.js';
import { runTranscription } from './runner.js';
import { decodeCursor, encodeCursor, RunningJobs, type Running } from './running.js';
import type { JobBackend, JobEvents, JobListQuery, JobPage, JobQueueDepth, JobRecord, JobRequest, JobStatus, WebhookAttempt, WebhookState } from './types.js';
import { webhookBody } from './view.js';
import { newMessageId, postWebhook } from './webhooks.js';

export type BullJobOptions = JobOptions & {
  readonly queue: string;
  readonly useModel: UseWhisper;
  readonly runWork?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** How long a worker's hold on a job lasts without renewal; past it the job is another worker's. @default 30000 */
  readonly lockDurationMs?: number;
  /** How often workers look for jobs whose worker stopped renewing. @default 30000 */
  readonly stalledIntervalMs?: number;
};

const PREFIX = 'moxing';
const JOBS_QUEUE = 'moxing-jobs';
const HOOKS_QUEUE = 'moxing-webhooks';
const INDEX = `${PREFIX}:jobs`;
const key = (id: string): string => `${PREFIX}:job:${id}`;
const logKey = (id: string): string => `${PREFIX}:job:${id}:log`;
const attemptsKey = (id: string): string => `${PREFIX}:job:${id}:attempts`;

/** KEYS: hash, index; ARGV: id, createdAt, request. */
const CREATE = `local seq = redis.call('INCR', '${PREFIX}:seq')
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'seq', seq, 'status', 'queued', 'createdAt', ARGV[2], 'request', ARGV[3], 'runs', 0, 'progress', 0, 'audioSecondsDone', 0)
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('RPUSH', KEYS[3], 'queued@0')
return seq`;
/** KEYS: hash, log; ARGV: now, owner. The run number, or -1 when the job is no longer to run. */
const START = `local s = redis.call('HGET', KEYS[1], 'status')
if s ~= 'queued' and s ~= 'running' then return -1 end
if s == 'running' then redis.call('RPUSH', KEYS[2], 'requeued:stalled@' .. redis.call('HGET', KEYS[1], 'runs')) end
local runs = redis.call('HINCRBY', KEYS[1], 'runs', 1)
redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[1], 'owner', ARGV[2], 'progress', 0, 'audioSecondsDone', 0)
redis.call('RPUSH', KEYS[2], 'started@' .. runs)
return runs`;
/** KEYS: hash; ARGV: run, progress, done, total. */
const PROGRESS = `if redis.call('HGET', KEYS[1], 'status') == 'running' and redis.call('HGET', KEYS[1], 'runs') == ARGV[1] then
redis.call('HSET', KEYS[1], 'progress', ARGV[2], 'audioSecondsDone', ARGV[3], 'audioSeconds', ARGV[4]) end
return 0`;
/** KEYS: hash, log; ARGV: run, status, now, error JSON or '', audio seconds or '', webhook message id or ''. 1 when this run finished the job. */
const FINISH = `if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'runs') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finishedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'progress', 100, 'audioSecondsDone', ARGV[5], 'audioSeconds', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'webhookState', 'pending', 'webhookMessageId', ARGV[6]) end
redis.call('RPUSH', KEYS[2], ARGV[2] .. '@' .. ARGV[1])
return 1`;
/** KEYS: hash, log; ARGV: now. 1 when cancelled now. */
const CANCEL = `local s = redis.call('HGET', KEYS[1], 'status')
if s ~= 'queued' and s ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[1])
redis.call('RPUSH', KEYS[2], 'cancelled@' .. redis.call('HGET', KEYS[1], 'runs'))
return 1`;
/** KEYS: hash, log; ARGV: run, reason. */
const REQUEUE = `if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'runs') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'progress', 0, 'audioSecondsDone', 0)
redis.call('RPUSH', KEYS[2], 'requeued:' .. ARGV[2] .. '@' .. ARGV[1])
return 1`;

export class BullJobs implements JobBackend {
  readonly events = new EventEmitter<JobEvents>();
  readonly files: JobFiles;
  private readonly clients: Redis[] = [];
  private readonly queue: Queue;
  private readonly hooks: Queue;
  private workers: Worker[] = [];
  private readonly running = new RunningJobs();
  private closing = false;
  private readonly owner = `${hostname()}:${process.pid}`;

  private constructor(
    private readonly options: BullJobOptions,
    private readonly redis: Redis,
  ) {
    this.files = new JobFiles(options.dataDir);
    this.queue = new Queue(JOBS_QUEUE, { connection: this.connection(), prefix: PREFIX });
    this.hooks = new Queue(HOOKS_QUEUE, { connection: this.connection(), prefix: PREFIX });
    for (const queue of [this.queue, this.hooks]) queue.on('error', () => undefined);
  }

  /** Connects; with `jobConcurrency` above 0, this process also works jobs. */
  static async open(options: BullJobOptions): Promise<BullJobs> {
    const redis = openRedis(options.queue, true);
    try {
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw new MoxingError('UNAVAILABLE', `cannot reach the job queue's Redis: ${(error as Error).message}`, { cause: error });
    }
    const jobs = new BullJobs(options, redis);
    if (options.jobConcurrency > 0) jobs.startWorkers();
    return jobs;
  }

  /** A BullMQ connection of its own (BullMQ's blocking reads need theirs). */
  private connection(): Redis {
    const client = openRedis(this.options.queue);
    this.clients.push(client);
    return client;
  }

  private startWorkers(): void {
    const locks = { lockDuration: this.options.lockDurationMs ?? 30_000, stalledInterval: this.options.stalledIntervalMs ?? 30_000, maxStalledCount: 10 };
    const jobs = new Worker(JOBS_QUEUE, (job, token) => this.process(job, token), { connection: this.connection(), prefix: PREFIX, concurrency: this.options.jobConcurrency, ...locks });
    // BullMQ gave up on a job (stalled past maxStalledCount): the record says so. Other failures (a run that
    // lost its lock to a newer run) leave the record to the run that holds it.
    jobs.on('failed', (job, error) => {
      if (job && /more than allowable limit/.test(error.message)) void this.finishRun(job.data.id as string, undefined, 'failed', { error: { code: 'UNAVAILABLE', message: 'the job\'s workers kept stopping before it finished' } });
    });
    jobs.on('error', () => undefined);
    const hooks = new Worker(HOOKS_QUEUE, (job) => this.deliver(job), { connection: this.connection(), prefix: PREFIX, concurrency: 4 });
    hooks.on('error', () => undefined);
    this.workers = [jobs, hooks];
  }

  async submit(request: JobRequest, audio: Buffer): Promise<JobRecord> {
    if (this.closing) throw new MoxingError('UNAVAILABLE', 'the server is shutting down; submit the job again shortly');
    const id = newJobId();
    await this.files.writeUpload(id, audio);
    try {
      await this.script(CREATE, [key(id), INDEX, logKey(id)], [id, Date.now(), JSON.stringify(request)]);
      await this.queue.add('transcribe', { id }, { jobId: id, removeOnComplete: true, removeOnFail: 1000 });
    } catch (error) {
      await Promise.all([this.files.remove(id), this.redis.call('DEL', key(id), logKey(id)).catch(() => undefined), this.redis.call('ZREM', INDEX, id).catch(() => undefined)]);
      throw new MoxingError('UNAVAILABLE', `cannot queue the job: ${(error as Error).message}`, { cause: error });
    }
    this.events.emit('queued', { id });
    return (await this.get(id))!;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const fields = await this.redis.hgetall(key(id));
    if (Object.keys(fields).length === 0) return undefined;
    const request = JSON.parse(fields.request) as JobRequest;
    const number = (name: string): number | undefined => (fields[name] === undefined || fields[name] === '' ? undefined : Number(fields[name]));
    let webhook: JobRecord['webhook'];
    if (request.webhook) {
      const attempts = ((await this.redis.call('LRANGE', attemptsKey(id), 0, -1)) as string[]).map((a) => JSON.parse(a) as WebhookAttempt);
      webhook = { state: (fields.webhookState as WebhookState | undefined) ?? 'pending', attempts };
    }
    return {
      id,
      status: fields.status as JobStatus,
      request,
      createdAt: Number(fields.createdAt),
      ...(number('startedAt') !== undefined ? { startedAt: number('startedAt') } : {}),
      ...(number('finishedAt') !== undefined ? { finishedAt: number('finishedAt') } : {}),
      progress: number('progress') ?? 0,
      audioSecondsDone: number('audioSecondsDone') ?? 0,
      ...(number('audioSeconds') !== undefined ? { audioSeconds: number('audioSeconds') } : {}),
      runs: number('runs') ?? 0,
      ...(fields.error ? { error: JSON.parse(fields.error) as { code: string; message: string } } : {}),
      ...(webhook ? { webhook } : {}),
    };
  }

  async list(query: JobListQuery): Promise<JobPage> {
    const jobs: JobRecord[] = [];
    let before = query.cursor === undefined ? '+inf' : `(${decodeCursor(query.cursor)}`;
    let last: number | undefined;
    let more = false;
    for (;;) {
      const chunk = (await this.redis.call('ZREVRANGEBYSCORE', INDEX, before, '-inf', 'WITHSCORES', 'LIMIT', 0, 100)) as string[];
      for (let i = 0; i < chunk.length; i += 2) {
        const job = await this.get(chunk[i]);
        if (!job || (query.status && job.status !== query.status)) continue;
        if (jobs.length === query.limit) {
          more = true;
          break;
        }
        jobs.push(job);
        last = Number(chunk[i + 1]);
      }
      if (more || chunk.length < 200) break;
      before = `(${chunk[chunk.length - 1]}`;
    }
    return { jobs, ...(more && last !== undefined ? { nextCursor: encodeCursor(last) } : {}) };
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    if ((await this.script(CANCEL, [key(id), logKey(id)], [Date.now()])) === 1) {
      // A waiting BullMQ job is removed; a running one sees the record and stops at its next window.
      await this.queue.remove(id).catch(() => undefined);
      this.running.stopRun(id, 'cancel');
      await this.files.remove(id);
      this.events.emit('cancelled', { id });
    }
    return this.get(id);
  }

  async result(id: string): Promise<TranscriptionResult> {
    const job = await this.get(id);
    if (!job) throw new MoxingError('NOT_FOUND', 'no such job');
    if (job.status !== 'succeeded') throw new MoxingError('CONFLICT', `the job is ${job.status}; its result is there once it has succeeded`);
    return this.files.readResult(id);
  }

  async depth(): Promise<JobQueueDepth> {
    const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return { queued: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0), running: counts.active ?? 0 };
  }

  async reachable(): Promise<boolean> {
    return this.redis.ping().then(
      (reply) => reply === 'PONG',
      () => false,
    );
  }

  /** The state changes of a job, oldest first (`started@1`, `requeued:stalled@1`, `succeeded@2`...). */
  async history(id: string): Promise<string[]> {
    return (await this.redis.call('LRANGE', logKey(id), 0, -1)) as string[];
  }

  async close(graceMs = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.running.drain(graceMs);
    await Promise.all(this.workers.map((w) => w.close().catch(() => undefined)));
    await Promise.all([this.queue.close(), this.hooks.close()].map((p) => p.catch(() => undefined)));
    await Promise.all(this.clients.map((c) => c.quit().catch(() => undefined)));
    this.redis.disconnect();
  }

  /** One run of a job on this worker. */
  private async process(job: Job, token: string | undefined): Promise<void> {
    const id = job.data.id as string;
    const run = Number(await this.script(START, [key(id), logKey(id)], [Date.now(), this.owner]));
    if (run < 0) return; // cancelled while it waited
    const record = (await this.get(id))!;
    const controller = new AbortController();
    const started = performance.now();
    this.events.emit('started', { id, run, waitedMs: record.startedAt! - record.createdAt });
    // A cancel from the API process shows in the record: looked at every second.
    const watch = setInterval(() => {
      void this.redis.call('HGET', key(id), 'status').then((status) => {
        if (status === 'cancelled') this.running.stopRun(id, 'cancel');
      }, () => undefined);
    }, 1000);
    const work = this.options.runWork ?? (<T>(fn: () => Promise<T>) => fn());
    let settle!: () => void;
    const entry: Running = { controller, done: new Promise<void>((resolve) => (settle = resolve)) };
    this.running.set(id, entry);
    try {
      const result = await work(() =>
        runTranscription(record.request, this.files.uploadPath(id), {
          useModel: this.options.useModel,
          signal: controller.signal,
          checkpoints: this.files.checkpoints(id),
          onProgress: (p) => {
            void this.script(PROGRESS, [key(id)], [run, p.progress, p.audioSecondsDone, p.audioSeconds]).catch(() => undefined);
            this.events.emit('progress', { id, progress: p.progress, audioSecondsDone: p.audioSecondsDone });
            void job.extendLock(token ?? '', this.options.lockDurationMs ?? 30_000).catch(() => undefined);
          },
        }),
      );
      await this.files.writeResult(id, result);
      const audioSeconds = result.duration ?? 0;
      if (await this.finishRun(id, run, 'succeeded', { audioSeconds })) this.events.emit('completed', { id, durationMs: performance.now() - started, audioSeconds });
    } catch (error) {
      if (entry.stop === 'cancel') return;
      if (entry.stop === 'shutdown') {
        // Back to the queue for another worker (or this one's next start).
        await this.script(REQUEUE, [key(id), logKey(id)], [run, 'shutdown']);
        this.events.emit('requeued', { id, reason: 'shutdown' });
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      const answer = publicError(error);
      if (await this.finishRun(id, run, 'failed', { error: { code: answer.code, message: answer.message } })) this.events.emit('failed', { id, durationMs: performance.now() - started, code: answer.code });
    } finally {
      clearInterval(watch);
      this.running.delete(id);
      settle();
    }
  }

  /** Finishes run `run` (undefined: whatever run holds it) once; queues the webhook. */
  private async finishRun(id: string, run: number | undefined, status: 'succeeded' | 'failed', outcome: { audioSeconds?: number; error?: { code: string; message: string } }): Promise<boolean> {
    const current = run ?? Number(await this.redis.call('HGET', key(id), 'runs'));
    const record = await this.get(id);
    if (!record) return false;
    const messageId = record.request.webhook ? newMessageId() : '';
    const finished = (await this.script(FINISH, [key(id), logKey(id)], [current, status, Date.now(), outcome.error ? JSON.stringify(outcome.error) : '', outcome.audioSeconds ?? '', messageId])) === 1;
    if (!finished) {
      // Cancelled meanwhile: its files go. A newer run holding the job (this one lost its lock) keeps them.
      if ((await this.get(id))?.status === 'cancelled') await this.files.remove(id);
      return false;
    }
    await this.files.removeUpload(id);
    if (messageId) {
      await this.hooks.add('deliver', { id, messageId }, {
        jobId: `hook_${id}`, attempts: this.options.webhookMaxAttempts, backoff: { type: 'exponential', delay: this.options.webhookBackoffMs, jitter: 0.5 }, removeOnComplete: true, removeOnFail: true,
      });
    }
    return true;
  }

  /** One webhook POST; a failure throws, so BullMQ retries it with backoff. */
  private async deliver(job: Job): Promise<void> {
    const { id, messageId } = job.data as { id: string; messageId: string };
    const record = await this.get(id);
    if (!record?.request.webhook) return;
    const attempt = await postWebhook({ url: record.request.webhook.url, secret: record.request.webhook.secret, messageId, body: webhookBody(record) }, { allowPrivate: this.options.allowPrivateWebhooks, timeoutMs: this.options.webhookTimeoutMs });
    await this.redis.call('RPUSH', attemptsKey(id), JSON.stringify(attempt));
    const state: WebhookState = attempt.error === undefined ? 'delivered' : job.attemptsMade + 1 >= this.options.webhookMaxAttempts ? 'failed' : 'pending';
    await this.redis.call('HSET', key(id), 'webhookState', state);
    this.events.emit('webhook', { id, attempt, state });
    if (attempt.error !== undefined) throw new Error(attempt.error);
  }

  private script(lua: string, keys: string[], args: unknown[]): Promise<unknown> {
    return this.redis.call('EVAL', lua, keys.length, ...keys, ...args.map(String));
  }
}
