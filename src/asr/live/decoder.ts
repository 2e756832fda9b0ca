/**
 * One loaded Whisper shared by every live stream, their decodes batched together: a request waits while the
 * batch before it runs (and for the streams given audio at the same time), then goes with every request that
 * arrived meanwhile, so a second stream adds a
 * row to a batch instead of a turn in a queue (whisper_streaming's streams take turns, WhisperLive's second
 * client multiplies everyone's latency).
 *
 * Partials are what may wait or go. Decodes that settle text (finals, LocalAgreement steps) go first, in a
 * batch of their own; a partial asked for while a batch runs is dropped at once (resolved undefined), and a
 * batch holds one partial, the others asked for with it dropped. A dropped partial's stream is not blocked on
 * a stale decode: it takes the audio that came meanwhile (hearing its own turn end sooner) and asks again.
 * A decode that settles text asked for while a batch of partials runs stops that batch at its next token
 * step (preempted, resolved undefined), so a final waits for at most one decoder step (or the window's encoder
 * run it is in) instead of the partial's whole decode. A caller's AbortSignal takes its request out of the
 * queue, and stops the running batch once every request in it was called off.
 * A stream whose final is imminent (it hears the silence that may end its turn) holds partials back: none
 * starts on any stream until the hold ends (speech again, or the turn's final). The encoder cannot be
 * stopped once it runs, so a partial's encoder started in that silence would delay the final by up to a
 * whole window's run; with several streams one is almost always about to start (bench:live: each partial is
 * dropped but one, back to back). A partial already running goes on: the final stops it when it comes (a
 * pause between words also holds, and stopping partials there would leave a stream with hardly any).
 * Why (bench:live, VAD policy, tiny model, 4 streams): the encoder runs a 30 s window per row, so a batch of
 * four partials took 1.3-2 s on a loaded machine; every final waited for one, then ran with the next
 * partials queued beside it, and p95 committed latency was about 7x that of one stream.
 *
 * Each request is one window of at most 30 s, decoded greedily with timestamp tokens, as openai/whisper
 * decodes the first window of `transcribe()` (the same log-mel with 30 s of padding, the same window cut).
 * Rows whose initial tokens have the same length decode in one DecodingTask, each with its own prompt
 * (DecodingTask.run's `initialRows`); the encoder runs a window at a time (faster on CPU, see BatchedOptions).
 */
import { HOP_LENGTH, N_FRAMES, N_SAMPLES, logMelSpectrogram, melWindow, type MelBins } from '../../audio/index.js';
import { float32 } from '../../runtime/index.js';
import { MoxingError } from '../../errors.js';
import type { Task } from '../types.js';
import { DecodingTask, type DecodingResult } from '../whisper/decode.js';
import { gatherRows } from '../whisper/decoder-runner.js';
import type { AudioFeatures } from '../whisper/encoder.js';
import type { BatchedModel } from '../whisper/batched/index.js';

export interface LiveDecodeRequest {
  /** 16 kHz mono samples, at most 30 s. */
  readonly samples: Float32Array;
  /** Detected per request when undefined. */
  readonly language: string | undefined;
  readonly task: Task;
  /** Previous text as tokens (after <|startofprev|>); empty for none. */
  readonly prompt: readonly number[];
  /** Most tokens to sample. @default nTextCtx / 2 (224) */
  readonly sampleLen?: number;
  /** Return the window's encoder output with the result (word timing runs on it). @default false */
  readonly keepFeatures?: boolean;
}

/** A decode's result, with its window's encoder output ([1, nAudioCtx, d_model]) when the request kept it. */
export interface LiveDecodeResult extends DecodingResult {
  readonly features?: AudioFeatures;
}

/** What the model behind a LiveDecoder must offer: the batched pipeline's model. */
export type LiveModel = BatchedModel;

/** Counters, for tests and the benchmark: decoder batches run and the windows they decoded. */
export interface LiveDecoderStats {
  batches: number;
  windows: number;
  /** Largest batch seen. */
  widest: number;
  /** Partials dropped: asked for while a batch ran, beside decodes that settle text or an older partial, or called off. */
  dropped: number;
  /** Partials stopped while their batch ran, for a decode that settles text (counted in `dropped` too). */
  preempted: number;
  /** Finals decoded speculatively, from the start of the silence that may end their turn (transcriber.ts). */
  speculated: number;
  /** Speculative finals thrown away: the speech went on, or the turn ended elsewhere. */
  wasted: number;
  /** Partials not started because a stream's final was imminent (counted in `dropped` too). */
  heldBack: number;
}

/** One decoder batch, for a trace (bench:live --trace): what it held and where its time went (performance.now() ms). */
export interface LiveBatchTrace {
  /** 'settling': finals and agreement steps; 'partial': a batch of partials. */
  readonly kind: 'partial' | 'settling';
  /** When each of its requests was asked for. */
  readonly queuedAt: readonly number[];
  readonly startedAt: number;
  /** Each window's encoder run, ms. */
  readonly encoderMs: number[];
  /** The batched decode (first pass and token steps), ms; 0 when it stopped before. */
  decodeMs: number;
  endedAt: number;
  /** Preempted or called off. */
  stopped: boolean;
}

let traceSink: ((batch: LiveBatchTrace) => void) | undefined;

/** Hands every LiveDecoder's batches to `sink` once they end (undefined: off, the default). */
export function traceLiveBatches(sink: ((batch: LiveBatchTrace) => void) | undefined): void {
  traceSink = sink;
}

interface Pending {
  readonly request: LiveDecodeRequest;
  readonly queuedAt: number;
  /** A partial: dropped (resolved undefined) unless it is the oldest and nothing settling is due. */
  readonly droppable: boolean;
  /** Set by the caller's AbortSignal: the request is no longer wanted. */
  calledOff: boolean;
  readonly resolve: (result: LiveDecodeResult | undefined) => void;
  readonly reject: (error: unknown) => void;
}

export class LiveDecoder {
  readonly stats: LiveDecoderStats = { batches: 0, windows: 0, widest: 0, dropped: 0, preempted: 0, speculated: 0, wasted: 0, heldBack: 0 };
  private queue: Pending[] = [];
  private running = false;
  /** The batch running now, what stops it, and its trace. */
  private current: { readonly batch: readonly Pending[]; readonly stop: AbortController; readonly trace: LiveBatchTrace } | undefined;
  /** Streams whose final is imminent, and until when (performance.now() ms) each hold lasts unless renewed. */
  private readonly holds = new Map<object, number>();
  private scheduled = false;
  /** Streams inside a push: a batch waits until each has asked for its decode or finished. */
  private inside = 0;

  constructor(
    readonly model: LiveModel,
    /** Most windows decoded at once; more wait for the next batch. */
    readonly maxBatch = 8,
    /**
     * Most partials in a batch. A final due while partials run waits for their batch, whose cost grows with its
     * rows (the encoder runs a window at a time): one keeps that wait to one window's decode.
     */
    readonly partialRows = 1,
  ) {}

  /** One decoder per model object, so every stream on a model shares it. */
  static for(model: LiveModel): LiveDecoder {
    let decoder = shared.get(model);
    if (!decoder) {
      decoder = new LiveDecoder(model);
      shared.set(model, decoder);
    }
    return decoder;
  }

  /**
   * Runs a stream's handling of new audio. Streams given audio together (two clients' appends read in one
   * turn) reach their decodes at slightly different times (each first runs its VAD): a batch starts once every
   * stream inside `busy` has asked for its decode or is done, so they all go in it.
   */
  async busy<T>(work: () => Promise<T>): Promise<T> {
    this.inside++;
    try {
      return await work();
    } finally {
      this.inside--;
      this.schedule();
    }
  }

  /** Resolves once no decode is queued or running: a caller that wants every partial asked for answered (tests). */
  async idle(): Promise<void> {
    while (this.running || this.scheduled || this.queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /**
   * `holder`'s final is imminent: partials are held back (see the module's comment) for `ms` from now, or
   * until `release(holder)`. A stream renews its hold at each push; one that stops pushing (a closed
   * connection) lets it lapse instead of holding every stream's partials back for good.
   */
  hold(holder: object, ms: number): void {
    this.holds.set(holder, performance.now() + ms);
  }

  release(holder: object): void {
    this.holds.delete(holder);
  }

  /** Whether some stream's final is imminent (holds that lapsed are forgotten). */
  partialsHeld(): boolean {
    const now = performance.now();
    for (const [holder, until] of this.holds) if (until <= now) this.holds.delete(holder);
    return this.holds.size > 0;
  }

  /**
   * A decode that settles text: never dropped, and ahead of partials. With `signal`: undefined once the
   * signal called it off (a speculative final the turn did not need).
   */
  decode(request: LiveDecodeRequest): Promise<LiveDecodeResult>;
  decode(request: LiveDecodeRequest, signal: AbortSignal | undefined): Promise<LiveDecodeResult | undefined>;
  decode(request: LiveDecodeRequest, signal?: AbortSignal): Promise<LiveDecodeResult | undefined> {
    return this.enqueue(request, false, signal);
  }

  /** A partial's decode: undefined when it was dropped (ask again with newer audio), see the module's comment. */
  decodePartial(request: LiveDecodeRequest, signal?: AbortSignal): Promise<LiveDecodeResult | undefined> {
    // Behind a running batch it would be stale when its turn came, and its stream blocked meanwhile.
    const held = this.partialsHeld();
    if (this.running || held || signal?.aborted) {
      this.stats.dropped++;
      if (held) this.stats.heldBack++;
      return Promise.resolve(undefined);
    }
    return this.enqueue(request, true, signal);
  }

  private enqueue(request: LiveDecodeRequest, droppable: boolean, signal: AbortSignal | undefined): Promise<LiveDecodeResult | undefined> {
    if (request.samples.length > N_SAMPLES) throw new MoxingError('INTERNAL', `a live window is at most 30 s, got ${request.samples.length} samples`);
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const pending: Pending = { request, queuedAt: performance.now(), droppable, calledOff: false, resolve, reject };
      this.queue.push(pending);
      signal?.addEventListener('abort', () => this.callOff(pending), { once: true });
      if (!droppable) this.preemptPartials();
      this.schedule();
    });
  }

  /** A settling decode is due: a running batch of partials stops at its next step. */
  private preemptPartials(): void {
    const current = this.current;
    if (!current || current.stop.signal.aborted || !current.batch.every((p) => p.droppable)) return;
    this.stats.preempted += current.batch.length;
    current.stop.abort();
  }

  /** The caller no longer wants `pending`: out of the queue, or its batch stopped once nobody in it is waited for. */
  private callOff(pending: Pending): void {
    pending.calledOff = true;
    const at = this.queue.indexOf(pending);
    if (at >= 0) {
      this.queue.splice(at, 1);
      if (pending.droppable) this.stats.dropped++;
      pending.resolve(undefined);
      return;
    }
    const current = this.current;
    if (current?.batch.includes(pending) && current.batch.every((p) => p.calledOff)) current.stop.abort();
  }

  /** Checks, once the current turn's callbacks have run, whether the next batch can start. */
  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.running && this.queue.length > 0 && this.queue.length >= Math.min(this.inside, this.maxBatch)) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    const batch = this.nextBatch();
    const stop = new AbortController();
    const trace: LiveBatchTrace = { kind: batch.every((p) => p.droppable) ? 'partial' : 'settling', queuedAt: batch.map((p) => p.queuedAt), startedAt: performance.now(), encoderMs: [], decodeMs: 0, endedAt: 0, stopped: false };
    this.current = { batch, stop, trace };
    try {
      // A hold that came between the partials' asking and their batch's start: they do not start.
      if (trace.kind === 'partial' && this.partialsHeld()) {
        this.stats.heldBack += batch.length;
        stop.abort();
      }
      const results = await this.run(batch.map((p) => p.request), stop.signal);
      batch.forEach((p, i) => p.resolve(p.calledOff ? undefined : results[i]));
    } catch (error) {
      if (stop.signal.aborted) {
        trace.stopped = true;
        // Preempted partials, or requests all called off: nobody waits for a result.
        this.stats.dropped += batch.filter((p) => p.droppable && !p.calledOff).length;
        for (const p of batch) p.resolve(undefined);
      } else {
        for (const p of batch) p.reject(error);
      }
    } finally {
      trace.endedAt = performance.now();
      traceSink?.(trace);
      this.current = undefined;
      this.running = false;
      this.schedule();
    }
  }

  /** Decodes that settle text first, alone; else the oldest `partialRows` partials. The partials left are dropped. */
  private nextBatch(): Pending[] {
    const settling = this.queue.filter((p) => !p.droppable);
    const batch = settling.length > 0 ? settling.slice(0, this.maxBatch) : this.queue.slice(0, this.partialRows);
    for (const p of this.queue) {
      if (!p.droppable || batch.includes(p)) continue;
      this.stats.dropped++;
      p.resolve(undefined);
    }
    this.queue = settling.slice(batch.length);
    return batch;
  }

  private async run(requests: readonly LiveDecodeRequest[], signal: AbortSignal): Promise<LiveDecodeResult[]> {
    const { model } = this;
    this.stats.batches++;
    this.stats.windows += requests.length;
    this.stats.widest = Math.max(this.stats.widest, requests.length);
    const encoded: AudioFeatures[] = [];
    for (const r of requests) {
      signal.throwIfAborted();
      const started = performance.now();
      encoded.push(await model.encode(windowMel(r.samples, model.dims.nMels as MelBins), 1));
      this.current?.trace.encoderMs.push(performance.now() - started);
    }
    const decodeStarted = performance.now();
    const features = stack(encoded);
    const tasks = requests.map((r) => new DecodingTask(model, { task: r.task, language: r.language, temperature: 0, prompt: r.prompt, sampleLen: r.sampleLen }));
    // Rows decode together when their initial tokens line up (same language, task and length) and their lengths agree.
    const groups = new Map<string, number[]>();
    requests.forEach((r, i) => {
      const key = `${r.language ?? ''}\n${r.task}\n${tasks[i].initialTokens.length}\n${tasks[i].sampleLen}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const results: DecodingResult[] = new Array<DecodingResult>(requests.length);
    for (const rows of groups.values()) {
      const sub: AudioFeatures = rows.length === requests.length ? features : { batch: rows.length, tensor: gatherRows(features.tensor, rows) };
      const decoded = await tasks[rows[0]].run(sub, rows.map((i) => tasks[i].initialTokens), signal);
      rows.forEach((row, j) => (results[row] = decoded[j]));
    }
    if (this.current) this.current.trace.decodeMs = performance.now() - decodeStarted;
    return results.map((result, i) => (requests[i].keepFeatures ? { ...result, features: encoded[i] } : result));
  }
}

const shared = new WeakMap<LiveModel, LiveDecoder>();

/**
 * The mel window openai's `transcribe()` decodes first: log-mel with 30 s of padding, cut to the content.
 * Only the frames that reach the audio, and a few of silence, are computed: the window is zero-filled past
 * the content, and a frame of silence (log-mel -10) never sets the maximum that the log-mel is clamped
 * against, so the 30 s of zeros change nothing but cost an STFT of up to 30 s more per decode. An even frame
 * count keeps the STFT's frame pairs (two real frames per complex FFT) those of the full padding.
 */
export function windowMel(samples: Float32Array, nMels: MelBins): Float32Array {
  const content = Math.min(N_FRAMES, Math.floor(samples.length / HOP_LENGTH));
  // Frames up to content + 2 read audio (N_FFT / 2 = 200 samples either side of the frame's hop); two more of silence.
  const frames = content + 4 + (content % 2);
  const mel = logMelSpectrogram(samples, nMels, { padding: frames * HOP_LENGTH - samples.length });
  return melWindow(mel, 0, content).data;
}

function stack(parts: readonly AudioFeatures[]): AudioFeatures {
  if (parts.length === 1) return parts[0];
  const [, positions, width] = parts[0].tensor.dims;
  const data = new Float32Array(parts.length * positions * width);
  parts.forEach((part, i) => data.set(part.tensor.data as Float32Array, i * positions * width));
  return { batch: parts.length, tensor: float32(data, [parts.length, positions, width]) };
}
