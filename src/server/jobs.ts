/**
 * The job routes, for audio too long to wait for: `POST /v1/jobs` (the audio and every option of
 * /v1/audio/transcriptions, plus `task`, `webhook_url` and `webhook_secret`), `GET /v1/jobs/:id`,
 * `GET /v1/jobs/:id/result?format=`, `DELETE /v1/jobs/:id` and `GET /v1/jobs?status=&limit=&cursor=`.
 * The routes speak to a JobBackend and do not know which one (SQLite in-process, or BullMQ on Redis).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { z } from 'zod';
import { streamAudio } from '../audio/index.js';
import { MoxingError } from '../errors.js';
import { renderTranscript } from '../formats/index.js';
import { JOB_ID } from '../jobs/files.js';
import { JOB_STATUSES, type JobBackend, type JobRequest } from '../jobs/types.js';
import { publicJob } from '../jobs/view.js';
import { checkWebhookUrl, isPublicAddress, webhookKey } from '../jobs/webhooks.js';
import type { SpeechModels } from './speech-models.js';
import { DEFAULT_AUDIO_PLUGIN, ParamError, readParts, registerUploads, renderOpenAiAnswer, TRANSCRIPTION_FIELDS, transcriptionOptions } from './audio.js';
import { parseBody } from './errors.js';

export interface JobsPluginOptions {
  readonly backend: JobBackend;
  /** The speech models a job may name: the app's, as /v1/audio/* serves them. */
  readonly speech: SpeechModels;
  /** Largest audio file. @default DEFAULT_AUDIO_PLUGIN.maxUploadBytes */
  readonly maxUploadBytes?: number;
  /** Webhooks may target loopback and private addresses. @default false */
  readonly allowPrivateWebhooks?: boolean;
}

/** The job fields: the transcription fields plus the task and the webhook. */
const JOB_FIELDS = {
  ...TRANSCRIPTION_FIELDS,
  task: z.enum(['transcribe', 'translate']),
  webhook_url: z.string().min(1).max(2000),
  webhook_secret: z.string().min(1).max(200),
} as const;

const RESULT_FORMATS = ['json', 'verbose_json', 'srt', 'vtt', 'txt', 'tsv'] as const;
const IdParams = z.strictObject({ id: z.string().regex(JOB_ID, 'is not a job id') });
const ResultQuery = z.strictObject({ format: z.enum(RESULT_FORMATS).optional() });
const ListQuery = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.string().regex(/^\d{1,3}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(1).max(100)).optional(),
  cursor: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'is not a cursor this server gave out').optional(),
});

export async function jobsPlugin(app: FastifyInstance, options: JobsPluginOptions): Promise<void> {
  const { backend } = options;
  const { speech } = options;
  await registerUploads(app, options.maxUploadBytes ?? DEFAULT_AUDIO_PLUGIN.maxUploadBytes);

  app.post('/v1/jobs', async (request, reply) => {
    const body = await readParts(request, JOB_FIELDS);
    if (body.stream) throw new ParamError('stream', 'a job is not streamed: poll GET /v1/jobs/:id or give a webhook_url');
    if (body.logprobs) throw new ParamError('include', 'jobs do not answer include[]=logprobs; ask POST /v1/audio/transcriptions with response_format "json" for them');
    const { task = 'transcribe', webhook_url: url, webhook_secret: secret, file, ...fields } = body;
    transcriptionOptions(fields, task); // the same checks as /v1/audio/*, before anything is stored
    if (fields.response_format === 'diarized_json' || fields.knownNames || fields.knownReferences) throw new ParamError('response_format', 'diarized_json is answered by /v1/audio/transcriptions, not by jobs yet');
    const model = speech.resolve(fields.model);
    await checkIsAudio(file);
    const job: JobRequest = { model, task, fields, baseUrl: `${request.protocol}://${request.host}`, ...(url !== undefined || secret !== undefined ? { webhook: webhook(url, secret, options.allowPrivateWebhooks ?? false) } : {}) };
    const record = await backend.submit(job, file);
    return reply.status(201).header('location', `/v1/jobs/${record.id}`).send(publicJob(record));
  });

  app.get('/v1/jobs', async (request) => {
    const query = parseBody(ListQuery, request.query);
    const page = await backend.list({ status: query.status, limit: query.limit ?? 20, cursor: query.cursor });
    return { object: 'list', data: page.jobs.map(publicJob), next_cursor: page.nextCursor ?? null, has_more: page.nextCursor !== undefined };
  });

  app.get('/v1/jobs/:id', async (request) => publicJob(await found(backend, request)));

  app.delete('/v1/jobs/:id', async (request) => {
    const { id } = parseBody(IdParams, request.params);
    const job = await backend.cancel(id);
    if (!job) throw new MoxingError('NOT_FOUND', 'no such job');
    return publicJob(job);
  });

  app.get('/v1/jobs/:id/result', async (request: FastifyRequest, reply: FastifyReply) => {
    const query = parseBody(ResultQuery, request.query);
    const job = await found(backend, request);
    if (job.status !== 'succeeded') throw new MoxingError('CONFLICT', `the job is ${job.status}; its result is there once it has succeeded`);
    const result = await backend.result(job.id);
    const format = query.format ?? defaultFormat(job.request.fields.response_format);
    if (format === 'json' || format === 'verbose_json') return renderOpenAiAnswer(result, format, job.request.fields, job.request.task).body;
    return reply.type(format === 'vtt' ? 'text/vtt; charset=utf-8' : format === 'tsv' ? 'text/tab-separated-values; charset=utf-8' : 'text/plain; charset=utf-8').send(renderTranscript(result, format));
  });
}

/** The first second decodes: a file that is not audio is refused (415) now, not failed later. */
async function checkIsAudio(file: Buffer): Promise<void> {
  const blocks = streamAudio(file, { chunkSeconds: 1 });
  try {
    await blocks.next();
  } finally {
    await blocks.return(undefined);
  }
}

async function found(backend: JobBackend, request: FastifyRequest) {
  const { id } = parseBody(IdParams, request.params);
  const job = await backend.get(id);
  if (!job) throw new MoxingError('NOT_FOUND', 'no such job');
  return job;
}

/** The job's own response_format as the result's default format (`text` is the writers' `txt`). */
function defaultFormat(format: string | undefined): (typeof RESULT_FORMATS)[number] {
  return format === undefined ? 'json' : format === 'text' ? 'txt' : (format as (typeof RESULT_FORMATS)[number]);
}

function webhook(url: string | undefined, secret: string | undefined, allowPrivate: boolean): { url: string; secret: string } {
  if (url === undefined) throw new ParamError('webhook_url', 'webhook_secret needs a webhook_url');
  if (secret === undefined) throw new ParamError('webhook_secret', 'webhook_url needs a webhook_secret (whsec_ and base64 of 16 to 64 random bytes) to sign the calls');
  let parsed: URL;
  try {
    parsed = checkWebhookUrl(url);
  } catch (error) {
    throw new ParamError('webhook_url', (error as Error).message);
  }
  try {
    webhookKey(secret);
  } catch (error) {
    throw new ParamError('webhook_secret', (error as Error).message);
  }
  // A literal address is judged now; a name is resolved and judged at each delivery.
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && (host === 'localhost' || (isIP(host) !== 0 && !isPublicAddress(host)))) {
    throw new ParamError('webhook_url', 'webhook_url names a loopback, private or other non-public address; this server does not call those');
  }
  return { url: parsed.href, secret };
}
