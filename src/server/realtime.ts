/**
 * OpenAI's Realtime transcription protocol on `GET /v1/realtime?intent=transcription` (a WebSocket), so its
 * clients work: `session.update` (and the beta `transcription_session.update`), `input_audio_buffer.append /
 * commit / clear` in; `session.created/updated`, `input_audio_buffer.speech_started / speech_stopped /
 * committed`, `conversation.item.input_audio_transcription.delta / completed` and `error` out. Each
 * connection is a live stream (asr/live) on the served model, all streams batched on one decoder.
 *
 * Deltas are committed text only, so they add up to the item's transcript as OpenAI's do; the hypothesis not
 * settled yet goes out as `conversation.item.input_audio_transcription.partial {item_id, text}` (a moxing
 * extension a client may ignore), and each delta carries `audio_end_ms`, where its last word ends in the stream
 * (also an extension: latency measurement needs it). `?policy=vad` picks VAD endpointing over LocalAgreement-2 (the default).
 *
 * The upgrade runs the hardening rules itself (fastify's hooks do not see upgrades): Host allow-list, Origin
 * (the served origins or the same origin), the API key as a Bearer header or the `openai-insecure-api-key.KEY`
 * subprotocol browsers use, and a cap on open sessions. Each connection has a message size limit, a message
 * rate limit, a bound on audio waiting to be decoded, and an idle timeout.
 */
import { randomBytes } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import { DEFAULT_VAD_RUNTIME, Resampler, SAMPLE_RATE, SileroVad } from '../audio/index.js';
import { openLiveStream, type LiveEvent, type LivePolicy, type LiveTranscriber, type TimedWord } from '../asr/live/index.js';
import type { WhisperModel } from '../asr/whisper/index.js';
import type { ModelLoadOptions } from '../hub/index.js';
import { publicError } from './errors.js';
import { DEFAULT_REALTIME } from './speech-defaults.js';
import { apiKeyMatches, hostName } from './hardening.js';
import { LogprobTexts, type LogprobTokenizer, type TokenLogprob } from './logprobs.js';
import type { ModelLease } from './model-pool.js';
import { publicModelName } from './models.js';
import type { SecurityOptions } from './options.js';
import { OPENAI_MODEL, SpeechModels } from './speech-models.js';

export interface RealtimePluginOptions {
  /**
   * The app's speech models (buildApp shares one with every route): the served list a session may name, and the
   * pool its model is held in while it streams (TTL, memory budget, /metrics). Without it the plugin makes its own.
   */
  speech?: SpeechModels;
  /** Without `speech`: speech models a session may name, as given at start-up; the first is the default (and `whisper-1`). @default [DEFAULT_TRANSCRIBE.model] */
  models?: readonly string[];
  /** Without `speech`: how its models load. */
  modelOptions?: ModelLoadOptions;
  /** Sessions open at once across the server; past it the upgrade is refused with 429. @default 8 */
  maxSessions?: number;
  /** A session with no message for this long, and no audio of its own being transcribed, is closed. @default 60000 */
  idleTimeoutMs?: number;
  /** Largest WebSocket message (an append of 1 s of 24 kHz pcm16 is 64 KB of base64). @default 1 MiB */
  maxMessageBytes?: number;
  /** Messages a second before the session is closed. @default 200 */
  maxMessagesPerSecond?: number;
  /** Audio received and not yet decoded; appends past it are refused (the client sends faster than real time). @default 60 */
  maxQueuedSeconds?: number;
  /** Most tokens one decode samples. @default 224 */
  maxTokens?: number;
}


const PATH = '/v1/realtime';
const KEY_PROTOCOL = 'openai-insecure-api-key.';

const Transcription = z.strictObject({
  model: z.string().min(1).max(200).optional(),
  language: z.string().regex(/^[a-z]{2,3}$/, 'must be a language code such as "en"').optional(),
  prompt: z.string().max(4000).optional(),
});
const TurnDetection = z.strictObject({
  type: z.literal('server_vad'),
  threshold: z.number().min(0).max(1).optional(),
  prefix_padding_ms: z.number().int().min(0).max(10_000).optional(),
  silence_duration_ms: z.number().int().min(0).max(60_000).optional(),
  // Fields of a conversation session's server_vad: accepted, meaningless for transcription.
  create_response: z.boolean().optional(),
  interrupt_response: z.boolean().optional(),
  idle_timeout_ms: z.number().int().min(0).nullable().optional(),
});
const EventId = z.string().max(200).optional();
/** OpenAI's one include of a transcription session: the transcript tokens' log-probs on the delta and completed events. */
const LOGPROBS_INCLUDE = 'item.input_audio_transcription.logprobs';
const Include = z.array(z.enum([LOGPROBS_INCLUDE])).max(1).optional();
const SessionUpdate = z.strictObject({
  type: z.literal('session.update'),
  event_id: EventId,
  session: z.strictObject({
    type: z.literal('transcription'),
    audio: z
      .strictObject({
        input: z
          .strictObject({
            format: z.strictObject({ type: z.literal('audio/pcm'), rate: z.union([z.literal(24_000), z.literal(16_000)]).optional() }).optional(),
            transcription: Transcription.optional(),
            turn_detection: TurnDetection.nullable().optional(),
            noise_reduction: z.null().optional(),
          })
          .optional(),
      })
      .optional(),
    include: Include,
  }),
});
const BetaSessionUpdate = z.strictObject({
  type: z.literal('transcription_session.update'),
  event_id: EventId,
  session: z.strictObject({
    input_audio_format: z.literal('pcm16').optional(),
    input_audio_transcription: Transcription.optional(),
    turn_detection: TurnDetection.nullable().optional(),
    input_audio_noise_reduction: z.null().optional(),
    include: Include,
  }),
});
const Append = z.strictObject({ type: z.literal('input_audio_buffer.append'), event_id: EventId, audio: z.string() });
const Bare = <T extends string>(type: T) => z.strictObject({ type: z.literal(type), event_id: EventId });
const CLIENT_EVENTS = {
  'session.update': SessionUpdate,
  'transcription_session.update': BetaSessionUpdate,
  'input_audio_buffer.append': Append,
  'input_audio_buffer.commit': Bare('input_audio_buffer.commit'),
  'input_audio_buffer.clear': Bare('input_audio_buffer.clear'),
} as const;

interface SessionConfig {
  readonly rate: 16_000 | 24_000;
  /** The reference to load, and its public name. */
  readonly ref: string;
  readonly model: string;
  readonly language: string | null;
  readonly prompt: string;
  readonly turnDetection: { threshold: number; prefix_padding_ms: number; silence_duration_ms: number } | null;
  /** include: item.input_audio_transcription.logprobs. */
  readonly logprobs: boolean;
}

interface Shared {
  readonly speech: SpeechModels;
  readonly limits: typeof DEFAULT_REALTIME;
  readonly maxTokens: number | undefined;
  vad(): Promise<SileroVad>;
}

export async function realtimePlugin(app: FastifyInstance, options: RealtimePluginOptions): Promise<void> {
  const speech = options.speech ?? new SpeechModels({ models: options.models, modelOptions: options.modelOptions });
  if (!options.speech) app.addHook('onClose', () => speech.pool.close());
  const limits = { ...DEFAULT_REALTIME, ...Object.fromEntries(Object.entries(options).filter(([k, v]) => v !== undefined && k in DEFAULT_REALTIME)) } as typeof DEFAULT_REALTIME;
  let vad: Promise<SileroVad> | undefined;
  const shared: Shared = {
    speech,
    limits,
    maxTokens: options.maxTokens,
    vad: () => {
      vad ??= SileroVad.load(undefined, { runtime: DEFAULT_VAD_RUNTIME });
      vad.catch(() => (vad = undefined));
      return vad;
    },
  };
  const security = app.security;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxMessageBytes,
    perMessageDeflate: false,
    // Never echo the key protocol; `realtime` when the client offers it (OpenAI's browser examples do).
    handleProtocols: (protocols) => (protocols.has('realtime') ? 'realtime' : false),
  });
  const sessions = new Set<WebSocket>();

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const refusal = refuseUpgrade(request, security, sessions.size, limits.maxSessions);
    if (refusal) return answerAndClose(socket, ...refusal);
    const policy = (new URL(request.url ?? '/', 'http://localhost').searchParams.get('policy') ?? 'local-agreement') as LivePolicy;
    wss.handleUpgrade(request, socket, head, (ws) => {
      sessions.add(ws);
      ws.on('close', () => sessions.delete(ws));
      new RealtimeSession(ws, shared, policy, (error) => app.log.error({ err: error }, 'realtime session failed'));
    });
  });
  app.addHook('preClose', async () => {
    for (const ws of sessions) ws.terminate();
    wss.close();
  });
  // Plain HTTP on the socket's path: say how to use it, in the server's error shape.
  app.get(PATH, async (_request, reply) =>
    reply.code(426).header('upgrade', 'websocket').send({ error: { code: 'BAD_ARGUMENT', message: 'this is a WebSocket endpoint: connect with ?intent=transcription and the Realtime protocol' } }),
  );
}

/** Why an upgrade is refused ([status, code, message]), or undefined to accept it. */
function refuseUpgrade(request: IncomingMessage, security: SecurityOptions, open: number, maxSessions: number): [number, string, string] | undefined {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname !== PATH) return [404, 'NOT_FOUND', 'no WebSocket endpoint here; use /v1/realtime?intent=transcription'];
  if (security.allowedHosts !== 'any') {
    const host = hostName(request.headers.host);
    if (host === undefined || !security.allowedHosts.map((h) => h.toLowerCase()).includes(host)) {
      return [403, 'FORBIDDEN', 'this Host is not served here; start the server with --allowed-host NAME to serve it'];
    }
  }
  // Browsers send Origin and enforce nothing on WebSockets: a page may connect only from a served origin or this one.
  const origin = request.headers.origin;
  if (origin !== undefined && !security.corsOrigins.includes(origin) && !sameOrigin(origin, request.headers.host)) {
    return [403, 'FORBIDDEN', 'this Origin may not open a session; start the server with --cors-origin ORIGIN to allow it'];
  }
  if (security.apiKey !== undefined && !apiKeyMatches(offeredKey(request), security.apiKey)) {
    return [401, 'UNAUTHORIZED', `this server requires an API key: send Authorization: Bearer KEY or the subprotocol ${KEY_PROTOCOL}KEY`];
  }
  if (url.searchParams.get('intent') !== 'transcription') return [400, 'BAD_ARGUMENT', 'only transcription sessions are served: connect with ?intent=transcription'];
  const policy = url.searchParams.get('policy');
  if (policy !== null && policy !== 'vad' && policy !== 'local-agreement') return [400, 'BAD_ARGUMENT', 'policy must be "vad" or "local-agreement"'];
  if (open >= maxSessions) return [429, 'BUSY', `the server has ${maxSessions} live sessions open, its limit; retry later`];
  return undefined;
}

function offeredKey(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^Bearer /i.test(header)) return header.slice(7).trim();
  const protocols = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  return protocols.find((p) => p.startsWith(KEY_PROTOCOL))?.slice(KEY_PROTOCOL.length);
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

function answerAndClose(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const extra = status === 401 ? 'WWW-Authenticate: Bearer\r\n' : status === 429 ? 'Retry-After: 5\r\n' : '';
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** A protocol error, as OpenAI sends them: `code` and `param` name what was wrong. */
class EventError extends Error {
  constructor(readonly code: string, message: string, readonly param: string | null = null) {
    super(message);
  }
}

const id = (prefix: string): string => `${prefix}_${randomBytes(9).toString('base64url')}`;

class RealtimeSession {
  private readonly sessionId = id('sess');
  private config: SessionConfig;
  private stream: LiveTranscriber | undefined;
  /** The pooled model the stream runs on, held (never unloaded) until the stream is finished or the session closes. */
  private lease: ModelLease<WhisperModel> | undefined;
  private resampler: Resampler | undefined;
  private pending: Float32Array[] = [];
  private pendingSamples = 0;
  private drainQueued = false;
  /** Every operation runs in arrival order, one at a time. */
  private chain: Promise<void> = Promise.resolve();
  private item: { id: string; transcript: string; logprobs: TokenLogprob[] } | undefined;
  /** The open stream's tokenizer when it gives log-probs (its session asked for them). */
  private logprobTokenizer: LogprobTokenizer | undefined;
  private previousItem: string | null = null;
  /** Audio since the last item ended (OpenAI refuses a commit of an empty buffer). */
  private uncommittedSamples = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private windowStart = Date.now();
  private windowMessages = 0;
  private closed = false;
  /** Operations queued or running: a session waiting for its transcript is not idle. */
  private inFlight = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly shared: Shared,
    private readonly policy: LivePolicy,
    private readonly log: (error: unknown) => void,
  ) {
    const ref = shared.speech.resolve(undefined);
    this.config = { rate: 24_000, ref, model: OPENAI_MODEL, language: null, prompt: '', turnDetection: { threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 }, logprobs: false };
    ws.on('message', (data, isBinary) => this.receive(data, isBinary));
    ws.on('close', () => {
      this.closed = true;
      clearTimeout(this.idleTimer);
      // After the operation running now (a decode may still use the model): the model becomes idle.
      this.enqueue(async () => this.lease?.release(), null, true);
    });
    ws.on('error', () => ws.terminate());
    this.touch();
    this.send({ type: 'session.created', session: this.sessionObject() });
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    if (this.closed) return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight > 0) return this.touch();
      this.fail(new EventError('idle_timeout', `no message for ${this.shared.limits.idleTimeoutMs} ms: session closed`));
      this.ws.close(1000, 'idle timeout');
    }, this.shared.limits.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private receive(data: RawData, isBinary: boolean): void {
    this.touch();
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowMessages = 0;
    }
    if (++this.windowMessages > this.shared.limits.maxMessagesPerSecond) {
      this.fail(new EventError('rate_limit_exceeded', `more than ${this.shared.limits.maxMessagesPerSecond} messages a second: session closed`));
      this.ws.close(1008, 'rate limit');
      return;
    }
    let eventId: string | null = null;
    try {
      if (isBinary) throw new EventError('invalid_event', 'messages are JSON text frames; audio goes base64 in input_audio_buffer.append');
      let message: unknown;
      try {
        message = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
      } catch {
        throw new EventError('invalid_json', 'the message is not valid JSON');
      }
      const type = typeof message === 'object' && message !== null && !Array.isArray(message) ? (message as { type?: unknown }).type : undefined;
      const givenId = (message as { event_id?: unknown } | null)?.event_id;
      eventId = typeof givenId === 'string' ? givenId.slice(0, 200) : null;
      if (typeof type !== 'string') throw new EventError('invalid_event', 'the message has no "type"', 'type');
      if (!Object.hasOwn(CLIENT_EVENTS, type)) throw new EventError('unknown_event', `unknown or unsupported event type ${JSON.stringify(type.slice(0, 60))}`, 'type');
      const parsed = CLIENT_EVENTS[type as keyof typeof CLIENT_EVENTS].safeParse(message);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new EventError('invalid_value', `${issue.path.join('.') || type}: ${issue.message}`, issue.path.join('.') || null);
      }
      this.handle(parsed.data, eventId);
    } catch (error) {
      this.fail(error, eventId);
    }
  }

  private handle(event: z.output<(typeof CLIENT_EVENTS)[keyof typeof CLIENT_EVENTS]>, eventId: string | null): void {
    switch (event.type) {
      case 'session.update':
      case 'transcription_session.update': {
        const next = this.updatedConfig(event);
        // The format applies to the very next append (appends are converted as they arrive); the stream
        // so far is finished in order, and the next one opens with the new settings.
        if (next.rate !== this.config.rate) this.resampler = undefined;
        const [previous, previousLease] = [this.stream, this.lease];
        this.stream = undefined;
        this.lease = undefined;
        this.config = next;
        this.enqueue(async () => {
          try {
            if (previous) this.emit(await previous.finish());
          } finally {
            previousLease?.release();
          }
          if (event.type === 'session.update') this.send({ type: 'session.updated', session: this.sessionObject() });
          else this.send({ type: 'transcription_session.updated', session: this.betaSessionObject() });
        }, eventId);
        return;
      }
      case 'input_audio_buffer.append':
        return this.append(event.audio);
      case 'input_audio_buffer.commit':
        return this.enqueue(() => this.commit(), eventId);
      case 'input_audio_buffer.clear':
        return this.enqueue(async () => {
          this.pending = [];
          this.pendingSamples = 0;
          this.stream?.clear();
          this.item = undefined;
          this.uncommittedSamples = 0;
          this.send({ type: 'input_audio_buffer.cleared' });
        }, eventId);
    }
  }

  private updatedConfig(event: z.output<typeof SessionUpdate> | z.output<typeof BetaSessionUpdate>): SessionConfig {
    const input = event.type === 'session.update' ? event.session.audio?.input : undefined;
    const transcription = event.type === 'session.update' ? input?.transcription : event.session.input_audio_transcription;
    const turn = event.type === 'session.update' ? input?.turn_detection : event.session.turn_detection;
    let { ref, model } = this.config;
    if (transcription?.model !== undefined) {
      try {
        ref = this.shared.speech.resolve(transcription.model);
      } catch (error) {
        const param = event.type === 'session.update' ? 'session.audio.input.transcription.model' : 'session.input_audio_transcription.model';
        throw new EventError('model_not_found', publicError(error).message, param);
      }
      model = transcription.model === OPENAI_MODEL ? OPENAI_MODEL : publicModelName(ref);
    }
    const defaults = { threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 };
    return {
      rate: input?.format?.rate ?? this.config.rate,
      ref,
      model,
      language: transcription?.language ?? (transcription ? null : this.config.language),
      prompt: transcription?.prompt ?? (transcription ? '' : this.config.prompt),
      turnDetection:
        turn === undefined
          ? this.config.turnDetection
          : turn === null
            ? null
            : { threshold: turn.threshold ?? defaults.threshold, prefix_padding_ms: turn.prefix_padding_ms ?? defaults.prefix_padding_ms, silence_duration_ms: turn.silence_duration_ms ?? defaults.silence_duration_ms },
      logprobs: event.session.include === undefined ? this.config.logprobs : event.session.include.length > 0,
    };
  }

  private append(audio: string): void {
    const samples = pcm16(audio);
    const rate = this.config.rate;
    this.resampler ??= new Resampler(rate, SAMPLE_RATE);
    const resampled = rate === SAMPLE_RATE ? samples : this.resampler.process(samples);
    if (this.pendingSamples + resampled.length > this.shared.limits.maxQueuedSeconds * SAMPLE_RATE) {
      throw new EventError('input_audio_buffer_overflow', `more than ${this.shared.limits.maxQueuedSeconds} s of audio wait to be transcribed: send audio in real time`);
    }
    this.pending.push(resampled);
    this.pendingSamples += resampled.length;
    if (!this.drainQueued) {
      this.drainQueued = true;
      this.enqueue(() => this.drain(), null);
    }
  }

  /** Everything appended so far, in one push (a slow decode lets appends pile up; they go in together). */
  private async drain(): Promise<void> {
    this.drainQueued = false;
    if (this.pendingSamples === 0) return;
    const samples = new Float32Array(this.pendingSamples);
    let at = 0;
    for (const part of this.pending) {
      samples.set(part, at);
      at += part.length;
    }
    this.pending = [];
    this.pendingSamples = 0;
    const stream = await this.openStream();
    this.uncommittedSamples += samples.length;
    if (!this.config.turnDetection) this.item ??= { id: id('item'), transcript: '', logprobs: [] };
    this.emit(await stream.push(samples));
  }

  private async commit(): Promise<void> {
    await this.drain();
    if (this.uncommittedSamples === 0 || !this.stream) throw new EventError('input_audio_buffer_commit_empty', 'the input audio buffer is empty: nothing to commit');
    this.item ??= { id: id('item'), transcript: '', logprobs: [] };
    this.send({ type: 'input_audio_buffer.committed', item_id: this.item.id, previous_item_id: this.previousItem });
    this.emit(await this.stream.commit());
  }

  private async openStream(): Promise<LiveTranscriber> {
    if (this.stream) return this.stream;
    const c = this.config;
    const turnDetection = c.turnDetection ? { threshold: c.turnDetection.threshold, prefixPaddingMs: c.turnDetection.prefix_padding_ms, silenceDurationMs: c.turnDetection.silence_duration_ms } : null;
    const lease = await this.shared.speech.acquire(c.ref);
    try {
      this.stream = await openLiveStream({
        model: lease.model,
        vadModel: turnDetection ? await this.shared.vad() : undefined,
        policy: this.policy,
        turnDetection,
        language: c.language ?? undefined,
        prompt: c.prompt || undefined,
        maxTokens: this.shared.maxTokens,
        tokenLogprobs: c.logprobs,
      });
      this.logprobTokenizer = c.logprobs ? lease.model.tokenizer : undefined;
    } catch (error) {
      lease.release();
      throw error;
    }
    this.lease = lease;
    return this.stream;
  }

  /** The stream's events as the protocol's. */
  private emit(events: readonly LiveEvent[]): void {
    for (const e of events) {
      if (e.type === 'speech_started') {
        this.item = { id: id('item'), transcript: '', logprobs: [] };
        this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(e.start * 1000), item_id: this.item.id });
        continue;
      }
      this.item ??= { id: id('item'), transcript: '', logprobs: [] };
      const item = this.item;
      if (e.type === 'partial') {
        this.send({ type: 'conversation.item.input_audio_transcription.partial', item_id: item.id, content_index: 0, text: e.text });
      } else if (e.type === 'speech_stopped') {
        this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(e.end * 1000), item_id: item.id });
        this.send({ type: 'input_audio_buffer.committed', item_id: item.id, previous_item_id: this.previousItem });
      } else {
        const logprobs = this.logprobTokenizer ? { logprobs: wordLogprobs(e.words ?? [], this.logprobTokenizer, item.transcript !== '') } : {};
        if (e.text) {
          const delta = item.transcript ? ` ${e.text}` : e.text;
          item.transcript += delta;
          item.logprobs.push(...(logprobs.logprobs ?? []));
          this.send({ type: 'conversation.item.input_audio_transcription.delta', item_id: item.id, content_index: 0, delta, ...logprobs, audio_end_ms: Math.round(e.end * 1000) });
        }
        if (e.final) {
          const seconds = Math.max(0, e.end - e.start);
          const all = this.logprobTokenizer ? { logprobs: item.logprobs } : {};
          this.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: item.id, content_index: 0, transcript: item.transcript, ...all, usage: { type: 'duration', seconds: Math.ceil(seconds) } });
          this.previousItem = item.id;
          this.item = undefined;
          this.uncommittedSamples = 0;
        }
      }
    }
  }

  /** Queues `op` after the others; a closed session's ops are skipped, unless `always` (its clean-up). */
  private enqueue(op: () => Promise<void>, eventId: string | null, always = false): void {
    this.inFlight++;
    this.chain = this.chain.then(async () => {
      try {
        if (!this.closed || always) await op();
      } catch (error) {
        this.fail(error, eventId);
      } finally {
        this.inFlight--;
        this.touch();
      }
    });
  }

  private fail(error: unknown, eventId: string | null = null): void {
    if (error instanceof EventError) {
      this.send({ type: 'error', error: { type: 'invalid_request_error', code: error.code, message: error.message, param: error.param, event_id: eventId } });
      return;
    }
    const answer = publicError(error);
    if (answer.logged) this.log(error);
    const type = answer.status >= 500 ? 'server_error' : 'invalid_request_error';
    this.send({ type: 'error', error: { type, code: answer.code.toLowerCase(), message: answer.message, param: null, event_id: eventId } });
  }

  private send(event: Record<string, unknown>): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ event_id: id('event'), ...event }));
  }

  private sessionObject(): Record<string, unknown> {
    const c = this.config;
    return {
      type: 'transcription',
      id: this.sessionId,
      object: 'realtime.transcription_session',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: c.rate },
          transcription: { model: c.model, language: c.language, prompt: c.prompt },
          turn_detection: c.turnDetection ? { type: 'server_vad', ...c.turnDetection } : null,
          noise_reduction: null,
        },
      },
      include: c.logprobs ? [LOGPROBS_INCLUDE] : [],
    };
  }

  private betaSessionObject(): Record<string, unknown> {
    const c = this.config;
    return {
      id: this.sessionId,
      object: 'realtime.transcription_session',
      input_audio_format: 'pcm16',
      input_audio_transcription: { model: c.model, language: c.language, prompt: c.prompt },
      turn_detection: c.turnDetection ? { type: 'server_vad', ...c.turnDetection } : null,
      input_audio_noise_reduction: null,
      include: c.logprobs ? [LOGPROBS_INCLUDE] : [],
    };
  }
}

/**
 * The log-probs of a commit's words as OpenAI's entries, trimmed as its text is; `spaced`: the delta is sent
 * after a space (not the item's first), which the first entry then carries, so that the entries spell the delta.
 */
function wordLogprobs(words: readonly TimedWord[], tokenizer: LogprobTokenizer, spaced: boolean): TokenLogprob[] {
  const texts = new LogprobTexts(tokenizer);
  for (const w of words) texts.addTokens(w.tokens ?? [], w.logprobs);
  const entries = texts.done();
  if (spaced && entries.length > 0) entries[0].token = ` ${entries[0].token}`;
  return entries;
}

/** Base64 little-endian 16-bit PCM as samples in [-1, 1), refusing anything else. */
export function pcm16(base64: string): Float32Array {
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new EventError('invalid_value', 'audio must be base64', 'audio');
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length % 2 !== 0) throw new EventError('invalid_value', 'audio must be 16-bit PCM: an even number of bytes', 'audio');
  const samples = new Float32Array(bytes.length / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(2 * i) / 32768;
  return samples;
}

/** For the CLI and the benchmark: samples in [-1, 1] as base64 16-bit PCM. */
export function toPcm16Base64(samples: Float32Array): string {
  const bytes = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) bytes.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768))), 2 * i);
  return bytes.toString('base64');
}
