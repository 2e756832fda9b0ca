/**
 * The server's speech models: which names a request may use (the served list, `whisper-1` for the first) and
 * the pool that loads them on demand. One instance per app (`app.speechModels`), shared by every route and
 * worker that transcribes, so a model is loaded once and its idle time and memory are counted in one place.
 */
import { DecodeScheduler, DEFAULT_TRANSCRIBE, WhisperModel } from '../asr/whisper/index.js';
import type { ModelLoadOptions } from '../hub/index.js';
import { resolveWhisperModel } from '../hub/index.js';
import { ModelPool, type ModelLease, type ModelPoolEvents, type ModelPoolOptions, type ModelPoolSettings } from './model-pool.js';
import { ModelAllowList, publicModelName } from './models.js';
import { DEFAULT_SPEECH_MODELS } from './speech-defaults.js';

export { DEFAULT_SPEECH_MODELS };

/** OpenAI's name for its own Whisper; it stands for this server's default speech model. */
export const OPENAI_MODEL = 'whisper-1';

export interface SpeechModelsOptions extends Partial<ModelPoolSettings>, ModelPoolEvents, Pick<ModelPoolOptions<WhisperModel>, 'now' | 'sweepEveryMs'> {
  /** Speech models requests may name, as given at start-up; the first is the default. @default [DEFAULT_TRANSCRIBE.model] */
  models?: readonly string[];
  /** How the models load. */
  modelOptions?: ModelLoadOptions;
  /**
   * Decode the windows of concurrent requests to one model in shared batches (asr/whisper/batched/scheduler.ts);
   * false decodes each request alone. More requests batch when more may run at once (maxConcurrentWork).
   * @default true
   */
  crossRequestBatching?: boolean;
  /** Windows in one cross-request batch at most (on CPU, 8 rows cost about 2.3 of one; 16, about 5). @default 8 */
  maxBatchWindows?: number;
  /** How long a window waits for others to join its batch, in ms. @default 5 */
  batchGatherMs?: number;
}

/** Runs `fn` with the Whisper `ref` loaded (`timestamped`: with cross attentions, for word times); it stays loaded while `fn` runs. */
export type UseWhisper = <T>(ref: string, timestamped: boolean, fn: (model: WhisperModel) => Promise<T>) => Promise<T>;

export class SpeechModels {
  readonly served: readonly string[];
  readonly pool: ModelPool<WhisperModel>;
  /** Batches windows across requests; undefined when crossRequestBatching is off. */
  readonly scheduler: DecodeScheduler | undefined;
  private readonly allowList: ModelAllowList;

  constructor(options: SpeechModelsOptions = {}) {
    this.served = options.models && options.models.length > 0 ? [...options.models] : [DEFAULT_TRANSCRIBE.model];
    this.allowList = new ModelAllowList({ served: this.served });
    const batching = options.crossRequestBatching ?? DEFAULT_SPEECH_MODELS.crossRequestBatching;
    this.scheduler = batching
      ? new DecodeScheduler({ maxBatch: options.maxBatchWindows ?? DEFAULT_SPEECH_MODELS.maxBatchWindows, gatherMs: options.batchGatherMs ?? DEFAULT_SPEECH_MODELS.batchGatherMs })
      : undefined;
    const load = options.modelOptions ?? {};
    this.pool = new ModelPool<WhisperModel>({
      ...options,
      source: {
        async locate(key) {
          const [ref, timestamped] = JSON.parse(key) as [string, boolean];
          const files = await resolveWhisperModel(ref, { ...load.hub, variant: load.variant, timestamped });
          return { bytes: await WhisperModel.fileBytes(files), load: () => WhisperModel.fromFiles(files, load.runtime) };
        },
        unload: (model) => model.close(),
      },
    });
  }

  /** The reference to load for a request's `model` (absent or `whisper-1`: the default); 404 when not served. */
  resolve(name: string | undefined): string {
    return name === undefined || name === OPENAI_MODEL ? this.served[0] : this.allowList.resolve(name).ref;
  }

  /** The names /v1/models lists: whisper-1, then the served models (folders by name, never by path). */
  get names(): string[] {
    return [OPENAI_MODEL, ...this.allowList.names].map(publicModelName);
  }

  /** Runs `fn` with the model `ref` loaded (`timestamped`: the decoder with cross attentions, for word times). */
  use<T>(ref: string, timestamped: boolean, fn: (model: WhisperModel) => Promise<T>): Promise<T> {
    return this.pool.use(poolKey(ref, timestamped), fn);
  }

  /** The model `ref` (plain decoder), held in use until the lease is released: a live session holds it while it streams. */
  acquire(ref: string): Promise<ModelLease<WhisperModel>> {
    return this.pool.acquire(poolKey(ref, false));
  }

  /** Loads every served model and keeps it loaded. */
  preload(): Promise<void> {
    return this.pool.preload(this.served.map((ref) => poolKey(ref, false)));
  }

  /** The served models not loaded yet (empty once preload is done). */
  notLoaded(): string[] {
    return this.served.filter((ref) => !this.pool.isLoaded(poolKey(ref, false))).map(publicModelName);
  }
}

/** The pool's key of a model reference and decoder kind. */
export function poolKey(ref: string, timestamped: boolean): string {
  return JSON.stringify([ref, timestamped]);
}
