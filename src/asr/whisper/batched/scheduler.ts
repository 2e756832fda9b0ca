/**
 * Cross-request batching: windows that concurrent transcriptions of one model decode with the same options
 * are decoded together, one decoder batch for all, and each transcription gets its own rows back. The
 * decoder's cost grows far slower than its rows (one step for 8 rows costs about 2 of one row), so a server
 * answering many clients decodes more audio per second than one that decodes one request at a time, as
 * whisper.cpp's server does.
 *
 * When no batch of its kind is decoding, a window waits at most `gatherMs` for others to join; while one is,
 * the windows arriving meanwhile gather until it ends and then leave together (under load, batches fill up
 * instead of many small ones decoding side by side). A batch holds at most `maxBatch` windows. Windows
 * join only windows of the same model, decoding options at every fallback temperature and fallback
 * thresholds, so each row is decoded exactly as alone: at temperature 0 (greedy or beam search) the tokens
 * are those of one-by-one decoding. Sampled fallback rows draw from one shared random stream, as the rows of
 * one transcription's batch already do; a transcription with a `seed` is decoded alone, so it stays
 * reproducible.
 */
import { MoxingError } from '../../../errors.js';
import type { DecodingContext, DecodingOptions, DecodingResult } from '../decode.js';
import { concatFeatures, type AudioFeatures } from '../encoder.js';
import type { TranscribeSettings } from '../transcribe-options.js';
import { decodeWithFallback, type WindowDecoder } from '../window-decode.js';

export interface DecodeSchedulerOptions {
  /** Windows decoded together at most. @default 8 */
  readonly maxBatch?: number;
  /** How long the first window of a batch waits for others, in ms. @default 5 */
  readonly gatherMs?: number;
}

export const DEFAULT_DECODE_SCHEDULER = Object.freeze({ maxBatch: 8, gatherMs: 5 });

/** What the scheduler did, for tests, metrics and the benchmark. */
export interface DecodeSchedulerStats {
  /** Decoder batches run. */
  batches: number;
  /** Windows decoded. */
  windows: number;
  /** Requests (decode calls) served. */
  requests: number;
  /** Most windows in one batch. */
  largestBatch: number;
}

interface Waiting {
  readonly features: AudioFeatures;
  readonly resolve: (results: DecodingResult[]) => void;
  readonly reject: (error: unknown) => void;
}

interface Group {
  readonly model: DecodingContext;
  readonly optionsAt: (t: number) => DecodingOptions;
  readonly settings: TranscribeSettings;
  readonly random: () => number;
  readonly waiting: Waiting[];
  rows: number;
  timer: NodeJS.Timeout | undefined;
  /** The gathering time is over; the group leaves when the batch of its kind in flight ends. */
  due: boolean;
}

export class DecodeScheduler implements WindowDecoder {
  readonly maxBatch: number;
  readonly gatherMs: number;
  readonly stats: DecodeSchedulerStats = { batches: 0, windows: 0, requests: 0, largestBatch: 0 };
  private readonly groups = new Map<string, Group>();
  /** Batches decoding now, per kind. */
  private readonly inFlight = new Map<string, number>();
  private readonly modelIds = new WeakMap<DecodingContext, number>();
  private nextModelId = 0;

  constructor(options: DecodeSchedulerOptions = {}) {
    this.maxBatch = options.maxBatch ?? DEFAULT_DECODE_SCHEDULER.maxBatch;
    this.gatherMs = options.gatherMs ?? DEFAULT_DECODE_SCHEDULER.gatherMs;
    if (!(Number.isInteger(this.maxBatch) && this.maxBatch >= 1 && this.maxBatch <= 256)) throw new MoxingError('BAD_ARGUMENT', `maxBatch must be a whole number from 1 to 256, got ${this.maxBatch}`);
    if (!(Number.isFinite(this.gatherMs) && this.gatherMs >= 0)) throw new MoxingError('BAD_ARGUMENT', `gatherMs must be >= 0, got ${this.gatherMs}`);
  }

  decode(model: DecodingContext, features: AudioFeatures, optionsAt: (t: number) => DecodingOptions, s: TranscribeSettings, random: () => number): Promise<DecodingResult[]> {
    this.stats.requests++;
    // Alone: a seeded transcription (reproducible draws), or a batch already full by itself.
    if (s.seed !== undefined || features.batch >= this.maxBatch) return this.run(model, features, optionsAt, s, random);
    const key = this.keyOf(model, optionsAt, s);
    let group = this.groups.get(key);
    // A window that would overfill the gathering batch sends it off and starts the next.
    if (group && group.rows + features.batch > this.maxBatch) {
      this.flush(key, group);
      group = undefined;
    }
    if (!group) {
      group = { model, optionsAt, settings: s, random, waiting: [], rows: 0, timer: undefined, due: false };
      this.groups.set(key, group);
      const g = group;
      g.timer = setTimeout(() => this.gathered(key, g), this.gatherMs);
    }
    const g = group;
    const answer = new Promise<DecodingResult[]>((resolve, reject) => g.waiting.push({ features, resolve, reject }));
    g.rows += features.batch;
    if (g.rows >= this.maxBatch) this.flush(key, g);
    return answer;
  }

  /** Windows join when the model and everything that decides their decode are the same. */
  private keyOf(model: DecodingContext, optionsAt: (t: number) => DecodingOptions, s: TranscribeSettings): string {
    let id = this.modelIds.get(model);
    if (id === undefined) this.modelIds.set(model, (id = this.nextModelId++));
    return JSON.stringify([id, s.temperature.map(optionsAt), s.compressionRatioThreshold, s.logprobThreshold, s.noSpeechThreshold]);
  }

  /** The gathering time is over: leave now, or when the batch of this kind decoding now ends. */
  private gathered(key: string, group: Group): void {
    if ((this.inFlight.get(key) ?? 0) > 0) group.due = true;
    else this.flush(key, group);
  }

  private flush(key: string, group: Group): void {
    if (this.groups.get(key) === group) this.groups.delete(key);
    clearTimeout(group.timer);
    const { waiting } = group;
    if (waiting.length === 0) return;
    const merged = waiting.length === 1 ? waiting[0].features : concatFeatures(waiting.map((w) => w.features));
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    const decoded = this.run(group.model, merged, group.optionsAt, group.settings, group.random);
    void decoded.then(
      () => this.ended(key),
      () => this.ended(key),
    );
    decoded.then(
      (results) => {
        let at = 0;
        for (const w of waiting) {
          w.resolve(results.slice(at, at + w.features.batch));
          at += w.features.batch;
        }
      },
      (error: unknown) => {
        for (const w of waiting) w.reject(error);
      },
    );
  }

  /** A batch of this kind ended: the group that waited for it leaves. */
  private ended(key: string): void {
    const left = (this.inFlight.get(key) ?? 1) - 1;
    if (left > 0) this.inFlight.set(key, left);
    else this.inFlight.delete(key);
    const next = this.groups.get(key);
    if (next?.due) this.flush(key, next);
  }

  private run(model: DecodingContext, features: AudioFeatures, optionsAt: (t: number) => DecodingOptions, s: TranscribeSettings, random: () => number): Promise<DecodingResult[]> {
    this.stats.batches++;
    this.stats.windows += features.batch;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, features.batch);
    return decodeWithFallback(model, features, optionsAt, s, random);
  }
}
