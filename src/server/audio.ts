/**
 * OpenAI's speech-to-text endpoints, `POST /v1/audio/transcriptions` and `/v1/audio/translations`, as the
 * official clients send them: multipart parts in any order, `timestamp_granularities[]` and `include[]` as
 * repeated parts, and whisper.cpp's server extensions (`temperature_inc`, `beam_size`, `best_of`, `vad`).
 * Answers are OpenAI's, field for field (json, text, srt, vtt, verbose_json, and SSE with `stream`), and so are
 * errors: `{ error: { message, type, param, code } }`. The audio runs as the server's model work.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { z } from 'zod';
import { decodeAudio } from '../audio/index.js';
import { DEFAULT_TRANSCRIBE, fallbackTemperatures, transcribeStream, WhisperModel, type BatchedOptions, type TranscribeOptions } from '../asr/whisper/index.js';
import type { Segment, TranscriptionResult } from '../asr/types.js';
import { MoxingError, quoteInput } from '../errors.js';
import { renderTranscript } from '../formats/index.js';
import { DECODING_FIELDS, FALLBACK_FIELDS } from '../asr/whisper/option-schemas.js';
import type { ModelLoadOptions } from '../hub/index.js';
import { LANGUAGES } from '../text/index.js';
import { publicError } from './errors.js';
import { ModelAllowList, publicModelName } from './models.js';

export interface AudioPluginOptions {
  /** Speech models requests may name, as given at start-up; the first is the default, and `whisper-1` names it. @default [DEFAULT_TRANSCRIBE.model] */
  models?: readonly string[];
  /** How the models load. */
  modelOptions?: ModelLoadOptions;
  /** Largest audio file. @default 25 MiB, OpenAI's limit */
  maxUploadBytes?: number;
}

export const DEFAULT_AUDIO_PLUGIN = Object.freeze({ maxUploadBytes: 25 * 1024 * 1024 });

/** OpenAI's name for its own Whisper; it stands for this server's default speech model. */
const OPENAI_MODEL = 'whisper-1';

/** A bad field, named as OpenAI names it in `error.param`. */
class ParamError extends MoxingError {
  constructor(readonly param: string, message: string, code: 'BAD_ARGUMENT' | 'PAYLOAD_TOO_LARGE' = 'BAD_ARGUMENT') {
    super(code, message);
  }
}

/** A multipart text part holding a number, checked by the option's own schema (asr/whisper/option-schemas.ts). */
const numberText = (schema: z.ZodNumber) => z.string().regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, 'must be a number').transform(Number).pipe(schema);
/** The server's cost cap on search widths (the CLI allows 64). */
const MAX_SERVED_WIDTH = 16;
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');

/** The text fields, each a schema over the part's string value. */
const FIELDS = {
  model: z.string().min(1).max(200),
  language: z.string().regex(/^[a-z]{2,3}$/, 'must be a language code such as "en"'),
  prompt: z.string().max(4000),
  // OpenAI's range (the CLI allows up to 10).
  temperature: numberText(FALLBACK_FIELDS.temperature.max(1)),
  temperature_inc: numberText(FALLBACK_FIELDS.temperatureIncrementOnFallback),
  response_format: z.enum(['json', 'text', 'srt', 'verbose_json', 'vtt']),
  stream: flag,
  chunking_strategy: z.string().max(500),
  beam_size: numberText(DECODING_FIELDS.beamSize.max(MAX_SERVED_WIDTH)),
  best_of: numberText(DECODING_FIELDS.bestOf.max(MAX_SERVED_WIDTH)),
  vad: flag,
} as const;

type Fields = { -readonly [K in keyof typeof FIELDS]?: z.output<(typeof FIELDS)[K]> };

/** `chunking_strategy`: "auto", or OpenAI's server_vad object (as JSON text in a multipart part). */
const ServerVad = z.strictObject({
  type: z.literal('server_vad'),
  threshold: z.number().min(0).max(1).optional(),
  prefix_padding_ms: z.number().int().min(0).max(10_000).optional(),
  silence_duration_ms: z.number().int().min(0).max(60_000).optional(),
});

interface AudioRequest extends Fields {
  file: Buffer;
  granularities: ('word' | 'segment')[];
}

export async function audioPlugin(app: FastifyInstance, options: AudioPluginOptions): Promise<void> {
  const served = options.models && options.models.length > 0 ? options.models : [DEFAULT_TRANSCRIBE.model];
  const allowList = new ModelAllowList({ served });
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_AUDIO_PLUGIN.maxUploadBytes;
  const loaded = new Map<string, Promise<WhisperModel>>();
  const load = (ref: string, timestamped: boolean): Promise<WhisperModel> => {
    const key = `${ref}\n${timestamped}`;
    let model = loaded.get(key);
    if (!model) {
      model = WhisperModel.load(ref, { ...options.modelOptions, timestamped });
      loaded.set(key, model);
      model.catch(() => loaded.delete(key));
    }
    return model;
  };

  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 1, fields: 40, fieldSize: 64 * 1024, parts: 60, headerPairs: 100 } });
  // OpenAI's error shape on these routes, so its clients raise their typed errors.
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = uploadError(error);
    const answer = publicError(mapped);
    if (answer.logged) request.log.error({ err: error }, 'request failed');
    if (answer.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    const type = answer.status >= 500 ? 'server_error' : 'invalid_request_error';
    return reply.status(answer.status).send({ error: { message: answer.message, type, param: mapped instanceof ParamError ? mapped.param : null, code: answer.code.toLowerCase() } });
  });

  const handler = (task: 'transcribe' | 'translate') => async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.isMultipart()) throw new MoxingError('AUDIO_UNSUPPORTED', 'send the audio as multipart/form-data with a "file" part, as the OpenAI clients do');
    const body = await readParts(request);
    const ref = body.model === undefined || body.model === OPENAI_MODEL ? served[0] : allowList.resolve(body.model).ref;
    const words = body.granularities.includes('word');
    if (words && body.response_format !== 'verbose_json') throw new ParamError('timestamp_granularities', 'timestamp_granularities needs response_format "verbose_json"');
    const decoding = decodingOptions(body, task);
    if (body.stream && body.response_format !== undefined && body.response_format !== 'json' && body.response_format !== 'text') {
      throw new ParamError('stream', 'stream answers text deltas: use response_format "json" or "text"');
    }
    // The audio is decoded before the model loads: a file that is not audio costs no model.
    const transcript = async () => transcribeStream(await decodeAudio(body.file), { ...decoding, model: await load(ref, words), wordTimestamps: words });
    // A stream is model work to its end: the slot is held until the last segment is sent.
    if (body.stream) return app.work(request, async () => streamTranscript(request, reply, await transcript()));
    const result = await app.work(request, async () => collect(await transcript()));
    return answer(reply, result, body, task);
  };
  app.post('/v1/audio/transcriptions', handler('transcribe'));
  app.post('/v1/audio/translations', handler('translate'));

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [OPENAI_MODEL, ...allowList.names].map((id) => ({ id: publicModelName(id), object: 'model', created: 0, owned_by: 'moxing' })),
  }));
}

/** Every part, in whatever order the client sent them: the file, the known fields, nothing else. */
async function readParts(request: FastifyRequest): Promise<AudioRequest> {
  const out: Partial<AudioRequest> & { granularities: AudioRequest['granularities'] } = { granularities: [] };
  const fields = out as Record<string, unknown>;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file') throw new ParamError(part.fieldname, `unknown file part ${quoteInput(part.fieldname, 40)}; send the audio as "file"`);
      out.file = await part.toBuffer();
      continue;
    }
    const name = part.fieldname;
    const value = String(part.value);
    if (name === 'timestamp_granularities[]' || name === 'timestamp_granularities') {
      if (value !== 'word' && value !== 'segment') throw new ParamError('timestamp_granularities', `timestamp_granularities takes "word" and "segment", got ${quoteInput(value, 40)}`);
      out.granularities.push(value);
    } else if (name === 'include[]' || name === 'include') {
      // Token logprobs are not answered yet: refused rather than silently left out.
      throw new ParamError('include', `include ${quoteInput(value, 40)} is not supported by this server yet`);
    } else if (Object.hasOwn(FIELDS, name)) {
      const parsed = FIELDS[name as keyof typeof FIELDS].safeParse(value);
      if (!parsed.success) throw new ParamError(name, `${name} ${parsed.error.issues[0].message}, got ${quoteInput(value, 40)}`);
      fields[name] = parsed.data;
    } else {
      throw new ParamError(name, `unknown field ${quoteInput(name, 40)}`);
    }
  }
  if (!out.file || out.file.length === 0) throw new ParamError('file', 'the "file" part with the audio is missing or empty');
  return out as AudioRequest;
}

/** The request's fields as transcribe() options. */
function decodingOptions(body: AudioRequest, task: 'transcribe' | 'translate'): TranscribeOptions & BatchedOptions {
  const temperature = fallbackTemperatures(body.temperature ?? 0, body.temperature_inc ?? 0.2);
  if (body.beam_size !== undefined && body.best_of !== undefined) throw new ParamError('beam_size', 'beam_size and best_of cannot be given together');
  const options: TranscribeOptions & BatchedOptions = {
    task,
    temperature,
    ...(body.language !== undefined ? { language: body.language } : {}),
    ...(body.prompt !== undefined ? { initialPrompt: body.prompt } : {}),
    ...(body.beam_size !== undefined ? { beamSize: body.beam_size } : {}),
    ...(body.best_of !== undefined ? { bestOf: body.best_of } : {}),
  };
  const chunking = body.chunking_strategy;
  if (chunking === undefined || chunking === 'auto') return body.vad || chunking === 'auto' ? { ...options, vad: true, conditionOnPreviousText: false } : options;
  let parsed: unknown;
  try {
    parsed = JSON.parse(chunking);
  } catch {
    throw new ParamError('chunking_strategy', 'chunking_strategy must be "auto" or a server_vad object');
  }
  const vad = ServerVad.safeParse(parsed);
  if (!vad.success) throw new ParamError('chunking_strategy', `chunking_strategy: ${vad.error.issues[0].message}`);
  const v = vad.data;
  return {
    ...options,
    conditionOnPreviousText: false,
    vad: { threshold: v.threshold, speechPadMs: v.prefix_padding_ms, minSilenceMs: v.silence_duration_ms },
  };
}

async function collect(stream: AsyncGenerator<Segment, TranscriptionResult>): Promise<TranscriptionResult> {
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
  }
}

/** The body OpenAI answers for `response_format`. */
function answer(reply: FastifyReply, result: TranscriptionResult, body: AudioRequest, task: 'transcribe' | 'translate'): unknown {
  const usage = { type: 'duration', seconds: Math.ceil(result.duration ?? 0) };
  const format = body.response_format ?? 'json';
  if (format === 'text' || format === 'srt' || format === 'vtt') {
    return reply.type(format === 'vtt' ? 'text/vtt; charset=utf-8' : 'text/plain; charset=utf-8').send(renderTranscript(result, format === 'text' ? 'txt' : format));
  }
  const text = result.text.trim();
  if (format === 'json') return { text, usage };
  const words = body.granularities.includes('word') ? result.segments.flatMap((s) => (s.words ?? []).map((w) => ({ word: w.word.trim(), start: w.start, end: w.end }))) : undefined;
  return {
    task,
    language: LANGUAGES[result.language as keyof typeof LANGUAGES] ?? result.language,
    duration: result.duration,
    text,
    segments: result.segments.map((s) => ({
      id: s.id,
      seek: s.seek,
      start: s.start,
      end: s.end,
      text: s.text,
      tokens: s.tokens,
      temperature: s.temperature,
      avg_logprob: s.avgLogprob,
      compression_ratio: s.compressionRatio,
      no_speech_prob: s.noSpeechProb,
    })),
    ...(words ? { words } : {}),
    usage,
  };
}

/**
 * `stream: true`: one `transcript.text.delta` per decoded segment, then `transcript.text.done`, as SSE. The
 * first segment is awaited before the answer starts, so a model or input that fails answers a plain error.
 */
async function streamTranscript(request: FastifyRequest, reply: FastifyReply, stream: AsyncGenerator<Segment, TranscriptionResult>): Promise<void> {
  let next: IteratorResult<Segment, TranscriptionResult>;
  try {
    next = await stream.next();
  } catch (error) {
    await stream.return(undefined as never);
    throw error;
  }
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (event: unknown): boolean => reply.raw.write(`data: ${JSON.stringify(event)}\n\n`);
  try {
    for (; !next.done; next = await stream.next()) {
      if (reply.raw.destroyed) return; // the client left: stop decoding for nobody
      send({ type: 'transcript.text.delta', delta: next.value.text, segment_id: next.value.id });
    }
    send({ type: 'transcript.text.done', text: next.value.text.trim(), usage: { type: 'duration', seconds: Math.ceil(next.value.duration ?? 0) } });
  } catch (error) {
    request.log.error({ err: error }, 'stream failed');
    send({ type: 'error', error: { message: publicError(error).message } });
  } finally {
    await stream.return(undefined as never);
    reply.raw.end();
  }
}

/** @fastify/multipart's limits and framing errors as moxing's. */
function uploadError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return new ParamError('file', 'the audio file is over the upload limit (25 MiB unless the server says otherwise)', 'PAYLOAD_TOO_LARGE');
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') return new MoxingError('BAD_ARGUMENT', 'too many parts in the upload');
  // busboy reports broken framing as plain errors ("Multipart: Boundary not found", "Unexpected end of form").
  const framing = code === undefined && error instanceof Error && /^(Multipart|Unexpected end of|Malformed part header|Part terminated)/.test(error.message);
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || code === 'FST_MULTIPART_INVALID' || framing) return new MoxingError('BAD_ARGUMENT', 'the multipart body is malformed');
  if (error instanceof MoxingError && (error.code === 'AUDIO_INVALID' || error.code === 'AUDIO_UNSUPPORTED')) {
    return new MoxingError('AUDIO_UNSUPPORTED', `the file is not audio this server can read (${error.message.replace(/^[^:]*: /, '')})`);
  }
  return error;
}
