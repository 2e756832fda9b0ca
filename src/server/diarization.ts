/**
 * `POST /v1/audio/diarization`: who spoke when, as LocalAI names the route and its fields (multipart: `file`,
 * `num_speakers`, `min_speakers`, `max_speakers`, `clustering_threshold`, `min_duration_on`, `min_duration_off`,
 * `response_format` json or rttm). The speaker models are the ones given at start-up; the audio runs as model work.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { z } from 'zod';
import { decodeAudio } from '../audio/index.js';
import { MoxingError, quoteInput } from '../errors.js';
import type { Diarizer, DiarizerOptions, DiarizeOptions } from '../speakers/index.js';

export interface DiarizationPluginOptions extends DiarizerOptions {
  /** Largest audio file. @default 25 MiB */
  maxUploadBytes?: number;
}

const number = (min: number, max: number) => z.string().regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, 'must be a number').transform(Number).pipe(z.number().min(min).max(max));
const whole = (min: number, max: number) => z.string().regex(/^\d{1,6}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

const FIELDS = {
  num_speakers: whole(1, 100),
  min_speakers: whole(1, 100),
  max_speakers: whole(1, 100),
  clustering_threshold: number(0.001, 2),
  min_duration_on: number(0, 60),
  min_duration_off: number(0, 60),
  response_format: z.enum(['json', 'rttm']),
  model: z.string().max(200),
} as const;

type Fields = { -readonly [K in keyof typeof FIELDS]?: z.output<(typeof FIELDS)[K]> };

/** Lazily loads the diarizer once (a failed load is retried by the next request). */
export function diarizerLoader(options: DiarizerOptions): () => Promise<Diarizer> {
  let loading: Promise<Diarizer> | undefined;
  return () => {
    if (!loading) {
      loading = import('../speakers/index.js').then((m) => m.loadDiarizer(options));
      loading.catch(() => (loading = undefined));
    }
    return loading;
  };
}

export async function diarizationPlugin(app: FastifyInstance, options: DiarizationPluginOptions): Promise<void> {
  const { maxUploadBytes = 25 * 1024 * 1024, ...models } = options;
  const diarizer = diarizerLoader(models);
  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 1, fields: 20, fieldSize: 1024, parts: 25, headerPairs: 100 } });
  app.post('/v1/audio/diarization', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.isMultipart()) throw new MoxingError('AUDIO_UNSUPPORTED', 'send the audio as multipart/form-data with a "file" part');
    let file: Buffer | undefined;
    const fields: Fields = {};
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file') throw new MoxingError('BAD_ARGUMENT', `unknown file part ${quoteInput(part.fieldname, 40)}; send the audio as "file"`);
          file = await part.toBuffer();
          continue;
        }
        const name = part.fieldname;
        if (!Object.hasOwn(FIELDS, name)) throw new MoxingError('BAD_ARGUMENT', `unknown field ${quoteInput(name, 40)}`);
        const parsed = FIELDS[name as keyof typeof FIELDS].safeParse(String(part.value));
        if (!parsed.success) throw new MoxingError('BAD_ARGUMENT', `${name} ${parsed.error.issues[0].message}, got ${quoteInput(String(part.value), 40)}`);
        (fields as Record<string, unknown>)[name] = parsed.data;
      }
    } catch (error) {
      throw uploadError(error);
    }
    if (!file || file.length === 0) throw new MoxingError('BAD_ARGUMENT', 'the "file" part with the audio is missing or empty');
    if (fields.min_speakers !== undefined && fields.max_speakers !== undefined && fields.min_speakers > fields.max_speakers) {
      throw new MoxingError('BAD_ARGUMENT', 'min_speakers is more than max_speakers');
    }
    const settings: DiarizeOptions = {
      numSpeakers: fields.num_speakers,
      minSpeakers: fields.min_speakers,
      maxSpeakers: fields.max_speakers,
      threshold: fields.clustering_threshold,
      minDurationOn: fields.min_duration_on,
      minDurationOff: fields.min_duration_off,
    };
    const audio = file;
    // The audio is decoded before the models load: a file that is not audio costs no model.
    const { result, duration } = await app.work(request, async () => {
      const samples = await decodeAudio(audio);
      return { result: await (await diarizer()).diarize(samples, settings), duration: samples.length / 16000 };
    });
    if (fields.response_format === 'rttm') {
      const { formatDiarization } = await import('../speakers/index.js');
      return reply.type('text/plain; charset=utf-8').send(formatDiarization(result, 'rttm', 'audio'));
    }
    return {
      duration,
      num_speakers: result.speakers.length,
      speakers: result.speakers,
      segments: result.segments.map((s, id) => ({ id, speaker: s.speaker, start: s.start, end: s.end })),
    };
  });
}

function uploadError(error: unknown): unknown {
  const code = (error as { code?: string }).code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return new MoxingError('PAYLOAD_TOO_LARGE', 'the audio file is over the upload limit');
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') return new MoxingError('BAD_ARGUMENT', 'too many parts in the upload');
  const framing = code === undefined && error instanceof Error && !(error instanceof MoxingError) && /^(Multipart|Unexpected end of|Malformed part header|Part terminated)/.test(error.message);
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || code === 'FST_MULTIPART_INVALID' || framing) return new MoxingError('BAD_ARGUMENT', 'the multipart body is malformed');
  return error;
}
