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
import { decodeAudio, SAMPLE_RATE } from '../audio/index.js';
import { fallbackTemperatures, transcribeStream, type BatchedOptions, type TranscribeOptions, type WhisperModel } from '../asr/whisper/index.js';
import type { Segment, TranscriptionResult } from '../asr/types.js';
import { MoxingError, quoteInput } from '../errors.js';
import { renderTranscript } from '../formats/index.js';
import { DECODING_FIELDS, FALLBACK_FIELDS } from '../asr/whisper/option-schemas.js';
import { LANGUAGES } from '../text/index.js';
import type { Diarization, DiarizerOptions, KnownSpeaker } from '../speakers/index.js';
import { speakerAt } from '../speakers/assign.js';
import { diarizerLoader } from './diarization.js';
import { publicError } from './errors.js';
import { LogprobTexts, transcriptLogprobs } from './logprobs.js';
import { ModelAllowList, publicModelName } from './models.js';
import { SpeechModels, type SpeechModelsOptions } from './speech-models.js';

export interface AudioPluginOptions extends SpeechModelsOptions {
  /** Largest audio file. @default 25 MiB, OpenAI's limit */
  maxUploadBytes?: number;
  /** The app's speech models (buildApp shares one with every route); without it the plugin makes its own. */
  speech?: SpeechModels;
  /** Models of other routes (chat) that GET /v1/models lists too. @default [] */
  listedModels?: readonly string[];
  /** Speaker models of `response_format=diarized_json`. @default the default aliases */
  diarization?: DiarizerOptions;
}

export const DEFAULT_AUDIO_PLUGIN = Object.freeze({ maxUploadBytes: 25 * 1024 * 1024 });

/** A bad field, named as OpenAI names it in `error.param`. */
export class ParamError extends MoxingError {
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
export const TRANSCRIPTION_FIELDS = {
  model: z.string().min(1).max(200),
  language: z.string().regex(/^[a-z]{2,3}$/, 'must be a language code such as "en"'),
  prompt: z.string().max(4000),
  // OpenAI's range (the CLI allows up to 10).
  temperature: numberText(FALLBACK_FIELDS.temperature.max(1)),
  temperature_inc: numberText(FALLBACK_FIELDS.temperatureIncrementOnFallback),
  response_format: z.enum(['json', 'text', 'srt', 'verbose_json', 'vtt', 'diarized_json']),
  stream: flag,
  chunking_strategy: z.string().max(500),
  beam_size: numberText(DECODING_FIELDS.beamSize.max(MAX_SERVED_WIDTH)),
  best_of: numberText(DECODING_FIELDS.bestOf.max(MAX_SERVED_WIDTH)),
  vad: flag,
} as const;

type FieldSchemas = Readonly<Record<string, z.ZodType<unknown, string>>>;
type FieldValues<F extends FieldSchemas> = { -readonly [K in keyof F]?: z.output<F[K]> };
type Fields = FieldValues<typeof TRANSCRIPTION_FIELDS>;

/** `chunking_strategy`: "auto", or OpenAI's server_vad object (as JSON text in a multipart part). */
const ServerVad = z.strictObject({
  type: z.literal('server_vad'),
  threshold: z.number().min(0).max(1).optional(),
  prefix_padding_ms: z.number().int().min(0).max(10_000).optional(),
  silence_duration_ms: z.number().int().min(0).max(60_000).optional(),
});

/** The transcription fields of a request, as stored with a job: everything but the audio. */
export interface TranscriptionFields extends Fields {
  granularities: ('word' | 'segment')[];
  /** OpenAI's known_speaker_names[] and known_speaker_references[] (audio data URLs), in order. */
  knownNames?: string[];
  knownReferences?: string[];
  /** `include[]=logprobs`: the text tokens' log-probs with the answer (json, or the stream's events). */
  logprobs?: boolean;
}

export interface AudioRequest extends TranscriptionFields {
  file: Buffer;
}

/** A speech task. */
export type SpeechTask = 'transcribe' | 'translate';

export async function audioPlugin(app: FastifyInstance, options: AudioPluginOptions): Promise<void> {
  const speech = options.speech ?? new SpeechModels(options);
  if (!options.speech) app.addHook('onClose', () => speech.pool.close());
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_AUDIO_PLUGIN.maxUploadBytes;

  await registerUploads(app, maxUploadBytes);

  const diarizer = diarizerLoader(options.diarization ?? {});
  const handler = (task: SpeechTask) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = await readParts(request, TRANSCRIPTION_FIELDS);
    const ref = speech.resolve(body.model);
    if (body.logprobs) checkLogprobs(body, task);
    if (body.response_format === 'diarized_json' || body.knownNames || body.knownReferences) {
      const known = knownSpeakers(body, task);
      const decoding = transcriptionOptions(body, task);
      // Who spoke when needs the whole audio: it runs first, then each decoded segment can carry its speaker.
      const diarized = async <T>(consume: (stream: AsyncGenerator<Segment, TranscriptionResult>, label: SpeakerLabeler) => Promise<T>): Promise<T> => {
        const samples = await decodeAudio(body.file);
        const label = speakerLabeler(await (await diarizer()).diarize(samples, { knownSpeakers: known }));
        return speech.use(ref, false, (model) => consume(transcribeStream(samples, { ...decoding, model }), label));
      };
      if (body.stream) return app.work(request, () => diarized((stream, label) => streamTranscript(request, reply, stream, (segment) => diarizedSegment(segment, label))));
      return app.work(request, () => diarized(async (stream, label) => diarizedAnswer(await collect(stream), label)));
    }
    const words = body.granularities.includes('word');
    if (words && body.response_format !== 'verbose_json') throw new ParamError('timestamp_granularities', 'timestamp_granularities needs response_format "verbose_json"');
    const decoding = transcriptionOptions(body, task);
    if (body.stream && body.response_format !== undefined && body.response_format !== 'json' && body.response_format !== 'text') {
      throw new ParamError('stream', 'stream answers text deltas: use response_format "json" or "text"');
    }
    // The audio is decoded before the model loads: a file that is not audio costs no model. The model is held
    // (never unloaded) until the transcript is consumed.
    const transcript = async <T>(consume: (stream: AsyncGenerator<Segment, TranscriptionResult>, model: WhisperModel) => Promise<T>): Promise<T> => {
      const samples = await decodeAudio(body.file);
      const started = performance.now();
      const options = { ...decoding, wordTimestamps: words, tokenLogprobs: body.logprobs, windowDecoder: speech.scheduler };
      const out = await speech.use(ref, words, (model) => consume(transcribeStream(samples, { ...options, model }), model));
      if (app.hasDecorator('metrics')) app.metrics.observeTranscription(task, samples.length / SAMPLE_RATE, (performance.now() - started) / 1000);
      return out;
    };
    // A stream is model work to its end: the slot is held until the last segment is sent.
    if (body.stream) {
      return app.work(request, () => transcript((stream, model) => streamTranscript(request, reply, stream, undefined, body.logprobs ? new LogprobTexts(model.tokenizer) : undefined)));
    }
    const [result, logprobs] = await app.work(request, () =>
      transcript(async (stream, model) => {
        const done = await collect(stream);
        return [done, body.logprobs ? transcriptLogprobs(done.segments, model.tokenizer) : undefined] as const;
      }),
    );
    const rendered = renderOpenAiAnswer(result, body.response_format ?? 'json', body, task);
    if (logprobs && typeof rendered.body !== 'string') return { ...rendered.body, logprobs };
    return typeof rendered.body === 'string' ? reply.type(rendered.contentType).send(rendered.body) : rendered.body;
  };
  app.post('/v1/audio/transcriptions', handler('transcribe'));
  app.post('/v1/audio/translations', handler('translate'));

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [...new Set([...speech.names, ...new ModelAllowList({ served: options.listedModels ?? [] }).names.map(publicModelName)])].map((id) => ({ id, object: 'model', created: 0, owned_by: 'moxing' })),
  }));
}

/**
 * Multipart uploads of audio in this plugin's scope, with OpenAI's error shape, so its clients raise their
 * typed errors (and `error.param` names the bad field).
 */
export async function registerUploads(app: FastifyInstance, maxUploadBytes: number): Promise<void> {
  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 1, fields: 40, fieldSize: 64 * 1024, parts: 60, headerPairs: 100 } });
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = uploadError(error);
    const answer = publicError(mapped);
    if (answer.logged) request.log.error({ err: error }, 'request failed');
    if (answer.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    const type = answer.status >= 500 ? 'server_error' : 'invalid_request_error';
    return reply.status(answer.status).send({ error: { message: answer.message, type, param: mapped instanceof ParamError ? mapped.param : null, code: answer.code.toLowerCase() } });
  });
}

/**
 * Every part, in whatever order the client sent them: the file, the fields `schemas` knows (the transcription
 * fields plus a route's own), nothing else.
 */
export async function readParts<F extends FieldSchemas>(request: FastifyRequest, schemas: F): Promise<AudioRequest & FieldValues<F>> {
  if (!request.isMultipart()) throw new MoxingError('AUDIO_UNSUPPORTED', 'send the audio as multipart/form-data with a "file" part, as the OpenAI clients do');
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
    if (name === 'known_speaker_names[]' || name === 'known_speaker_references[]') {
      // busboy cuts a field at the 64 KiB field limit without failing: a cut voice sample is refused, not used
      if ((part as { valueTruncated?: boolean }).valueTruncated) throw new ParamError(name, `${name} is over 64 KiB; send a shorter voice sample (about 2 s of 16-bit 16 kHz WAV)`);
      const list = name === 'known_speaker_names[]' ? (out.knownNames ??= []) : (out.knownReferences ??= []);
      if (list.length >= 4) throw new ParamError(name, `${name} takes at most 4 speakers`);
      list.push(value);
    } else if (name === 'timestamp_granularities[]' || name === 'timestamp_granularities') {
      if (value !== 'word' && value !== 'segment') throw new ParamError('timestamp_granularities', `timestamp_granularities takes "word" and "segment", got ${quoteInput(value, 40)}`);
      out.granularities.push(value);
    } else if (name === 'include[]' || name === 'include') {
      if (value !== 'logprobs') throw new ParamError('include', `include takes "logprobs", got ${quoteInput(value, 40)}`);
      out.logprobs = true;
    } else if (Object.hasOwn(schemas, name)) {
      const parsed = schemas[name].safeParse(value);
      if (!parsed.success) throw new ParamError(name, `${name} ${parsed.error.issues[0].message}, got ${quoteInput(value, 40)}`);
      fields[name] = parsed.data;
    } else {
      throw new ParamError(name, `unknown field ${quoteInput(name, 40)}`);
    }
  }
  if (!out.file || out.file.length === 0) throw new ParamError('file', 'the "file" part with the audio is missing or empty');
  return out as AudioRequest & FieldValues<F>;
}

/** The request's fields as transcribe() options (model and word timestamps aside). */
export function transcriptionOptions(body: TranscriptionFields, task: SpeechTask): TranscribeOptions & BatchedOptions {
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

/** OpenAI answers logprobs on transcriptions in json (or its stream) only: anything else is refused, not silently left out. */
function checkLogprobs(body: TranscriptionFields, task: SpeechTask): void {
  if (task === 'translate') throw new ParamError('include', 'include[]=logprobs is answered by /v1/audio/transcriptions only, as OpenAI does, not by translations');
  const format = body.response_format ?? 'json';
  if (format !== 'json') throw new ParamError('include', `include[]=logprobs needs response_format "json" (OpenAI answers logprobs in json only), got ${quoteInput(format, 40)}`);
}

export async function collect(stream: AsyncGenerator<Segment, TranscriptionResult>): Promise<TranscriptionResult> {
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
  }
}

const AUDIO_DATA_URL = /^data:audio\/[\w.+-]{1,40};base64,([A-Za-z0-9+/]+={0,2})$/;

/** known_speaker_names[] with their known_speaker_references[] (audio data URLs), for diarized_json only. */
function knownSpeakers(body: AudioRequest, task: 'transcribe' | 'translate'): KnownSpeaker[] {
  if (body.response_format !== 'diarized_json' || task !== 'transcribe') {
    throw new ParamError('response_format', 'speaker labels need response_format "diarized_json" on /v1/audio/transcriptions');
  }
  const names = body.knownNames ?? [];
  const references = body.knownReferences ?? [];
  if (names.length !== references.length) throw new ParamError('known_speaker_references', 'give one known_speaker_references[] per known_speaker_names[]');
  return names.map((name, i) => {
    const match = AUDIO_DATA_URL.exec(references[i]);
    if (!match || name.trim() === '' || name.length > 100) throw new ParamError('known_speaker_references', 'each known speaker needs a name and an audio data URL (data:audio/wav;base64,...)');
    return { name, audio: new Uint8Array(Buffer.from(match[1], 'base64')) };
  });
}

/** A segment's speaker: OpenAI's labels A, B, ... in order of the speakers' first turns, or a known speaker's name. */
type SpeakerLabeler = (start: number, end: number) => string;

function speakerLabeler(diarization: Diarization): SpeakerLabeler {
  const letters = new Map(diarization.speakers.map((s, i) => [s, /^SPEAKER_\d+$/.test(s) ? String.fromCharCode(65 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : '') : s]));
  return (start, end) => {
    const speaker = speakerAt(diarization, start, end);
    return (speaker === undefined ? undefined : letters.get(speaker)) ?? 'unknown';
  };
}

/** One segment of diarized_json, which is also the `transcript.text.segment` stream event. */
function diarizedSegment(s: Segment, label: SpeakerLabeler): unknown {
  return { type: 'transcript.text.segment', id: `seg_${s.id}`, start: s.start, end: s.end, text: s.text.trim(), speaker: label(s.start, s.end) };
}

/** OpenAI's diarized_json: transcript segments with their speakers. */
function diarizedAnswer(result: TranscriptionResult, label: SpeakerLabeler): unknown {
  return {
    task: 'transcribe',
    duration: result.duration,
    text: result.text.trim(),
    segments: result.segments.map((s) => diarizedSegment(s, label)),
    usage: { type: 'duration', seconds: Math.ceil(result.duration ?? 0) },
  };
}
/** An answer: a JSON object, or text with its content type. */
export type RenderedAnswer = { readonly contentType: string; readonly body: string } | { readonly contentType: 'application/json'; readonly body: Record<string, unknown> };

/** The body OpenAI answers for `response_format`. */
export function renderOpenAiAnswer(result: TranscriptionResult, format: NonNullable<Fields['response_format']>, body: Pick<TranscriptionFields, 'granularities'>, task: SpeechTask): RenderedAnswer {
  const usage = { type: 'duration', seconds: Math.ceil(result.duration ?? 0) };
  if (format === 'text' || format === 'srt' || format === 'vtt') {
    return { contentType: format === 'vtt' ? 'text/vtt; charset=utf-8' : 'text/plain; charset=utf-8', body: renderTranscript(result, format === 'text' ? 'txt' : format) };
  }
  const text = result.text.trim();
  if (format === 'json') return { contentType: 'application/json', body: { text, usage } };
  const words = body.granularities.includes('word') ? result.segments.flatMap((s) => (s.words ?? []).map((w) => ({ word: w.word.trim(), start: w.start, end: w.end }))) : undefined;
  return { contentType: 'application/json', body: {
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
  } };
}

/**
 * `stream: true`: one `transcript.text.delta` per decoded segment (followed by its `transcript.text.segment` with
 * the speaker, for diarized_json), then `transcript.text.done`, as SSE. The first segment is awaited before the answer starts, so a model or input that fails answers a plain error.
 */
async function streamTranscript(
  request: FastifyRequest,
  reply: FastifyReply,
  stream: AsyncGenerator<Segment, TranscriptionResult>,
  segmentEvent?: (segment: Segment) => unknown,
  logprobs?: LogprobTexts,
): Promise<void> {
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
      send({ type: 'transcript.text.delta', delta: next.value.text, segment_id: next.value.id, ...(logprobs ? { logprobs: logprobs.add(next.value) } : {}) });
      if (segmentEvent) send(segmentEvent(next.value));
    }
    const all = logprobs ? { logprobs: logprobs.done() } : {};
    send({ type: 'transcript.text.done', text: next.value.text.trim(), ...all, usage: { type: 'duration', seconds: Math.ceil(next.value.duration ?? 0) } });
  } catch (error) {
    request.log.error({ err: error }, 'stream failed');
    send({ type: 'error', error: { message: publicError(error).message } });
  } finally {
    await stream.return(undefined as never);
    reply.raw.end();
  }
}

/** @fastify/multipart's limits and framing errors as moxing's. */
export function uploadError(error: unknown): unknown {
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
