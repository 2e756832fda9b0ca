/**
 * Reading and mel of the batched pipeline's windows in a worker thread, so that they really overlap the model
 * run: ONNX Runtime's Node binding runs a session synchronously on the calling thread (a 5 ms timer does not
 * fire once during a 3 s encoder run), so work "started before" the run on the main thread only proceeds
 * after it.
 *
 * The worker reads the input itself (a path: WAV natively or ffmpeg; the bytes of a file: sent once). For
 * decoded samples held here, each request carries copies of its windows' samples (transferred), as
 * WindowReader would copy them: no copy of the whole input, and the caller's array is left untouched.
 * Each mel batch comes back transferred. One request at a time: with `aheadByOne` the worker prepares the
 * next batch while the model runs on this one, and never more.
 *
 * Worker threads are kept warm between runs (up to IDLE_WORKERS_KEPT, for IDLE_WORKER_MS): a thread's start,
 * module loading included, costs more than a short input's whole mel. Each run talks to its thread over a
 * MessageChannel of its own, so nothing of one run reaches the next.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { MelBins } from '../../../audio/constants.js';
import { MoxingError } from '../../../errors.js';
import { windowSamples, type AudioWindow } from './mel.js';
import { fromFailure, type MelWorkerInit, type MelWorkerInput, type MelWorkerReply, type MelWorkerRequest } from './mel-worker.js';

export interface MelWorkerOptions {
  /** The ffmpeg executable for non-WAV inputs. @default process.env.MOXING_FFMPEG, else `ffmpeg` on PATH */
  readonly ffmpegPath?: string;
  /** Read what a truncated input holds (the main thread has already reported it). @default false */
  readonly allowTruncated?: boolean;
}

/** How long `close` waits for the worker to stop its reading in order before terminating it. */
const CLOSE_WAIT_MS = 2000;
/** Idle threads kept for the next runs (a server runs a few batched requests at once). */
const IDLE_WORKERS_KEPT = 2;
/** An idle thread past this is stopped: a process that stopped transcribing gets its memory back. */
const IDLE_WORKER_MS = 30_000;

// From the TypeScript sources (tsx), the worker must load the .ts entry through tsx's API: tsx's loader
// does not reach worker threads on Node 20. From the build, it imports the compiled .js next to this one.
const FROM_SOURCES = import.meta.url.endsWith('.ts');
const ENTRY_URL = new URL(`./mel-worker.${FROM_SOURCES ? 'ts' : 'js'}`, import.meta.url).href;

function tsxApiUrl(): string | undefined {
  if (!FROM_SOURCES) return undefined;
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return undefined; // another TypeScript loader: let it try the plain import
  }
}

/**
 * The worker's program: plain JavaScript (as vision/lanes.ts), so it runs the same from the sources and
 * from the build. Each run arrives as `{port, init}` and is served on its port. A failure to load the entry
 * answers every request of every run with that failure.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const entry = workerData.tsxApi
  ? import(workerData.tsxApi).then((api) => api.tsImport(workerData.entry, workerData.entry))
  : import(workerData.entry);
entry.then(
  (m) => parentPort.on('message', ({ port, init }) => m.serveMelBatches(port, init)),
  (error) => {
    const failure = { name: 'Error', message: 'the mel worker could not load ' + workerData.entry + ': ' + (error && error.message) };
    parentPort.on('message', ({ port }) => port.on('message', (request) => {
      if (request.type === 'close') { port.postMessage({ type: 'closed' }); port.close(); }
      else port.postMessage({ type: 'error', error: failure });
    }));
  },
);
`;

/** Threads waiting for their next run, each with the timer that stops it and its watch for a crash. */
interface KeptWorker {
  readonly worker: Worker;
  readonly timer: NodeJS.Timeout;
  readonly onExit: () => void;
}
const idleWorkers: KeptWorker[] = [];

/** The threads kept idle now (tests look at them). */
export function keptMelWorkers(): readonly Worker[] {
  return idleWorkers.map((k) => k.worker);
}

/** Takes `kept` out of the idle list (to run, or because it stopped). */
function forget(kept: KeptWorker): void {
  const at = idleWorkers.indexOf(kept);
  if (at >= 0) idleWorkers.splice(at, 1);
  clearTimeout(kept.timer);
  kept.worker.off('exit', kept.onExit);
}

function takeWorker(): Worker {
  const kept = idleWorkers.pop();
  if (kept) {
    forget(kept);
    return kept.worker;
  }
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { entry: ENTRY_URL, tsxApi: tsxApiUrl() } });
  // Idle, it must not keep the process alive (a consumer may drop the stream without closing it).
  worker.unref();
  return worker;
}

/** A thread whose run ended in order: kept for the next run, or stopped when enough are kept. */
function giveBack(worker: Worker): void {
  worker.unref();
  if (idleWorkers.length >= IDLE_WORKERS_KEPT) return void worker.terminate().catch(() => undefined);
  const kept: KeptWorker = {
    worker,
    timer: setTimeout(() => {
      forget(kept);
      void worker.terminate().catch(() => undefined);
    }, IDLE_WORKER_MS).unref(),
    // A kept thread that dies while idle is never handed out: its exit would go unseen by the next run.
    onExit: () => forget(kept),
  };
  worker.once('exit', kept.onExit);
  idleWorkers.push(kept);
}

interface Pending {
  readonly resolve: (mel: Float32Array) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A worker thread preparing the mel of windows of one input, one request at a time. Start it early (its
 * start-up then overlaps other work), ask `prepare` in window order, and `close` it in a `finally`.
 */
export class MelWorker {
  private readonly worker: Worker;
  /** This run's end of its channel to the thread. */
  private readonly port: MessagePort;
  private readonly samples: Float32Array | undefined;
  private pending: Pending | undefined;
  private failure: Error | undefined;
  private exited = false;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;

  constructor(input: string | Uint8Array | Float32Array, nMels: MelBins, options: MelWorkerOptions = {}) {
    const { ffmpegPath, allowTruncated } = options;
    const source: MelWorkerInput =
      input instanceof Float32Array
        ? { kind: 'samples' }
        : typeof input === 'string'
          ? { kind: 'file', path: input, ffmpegPath, allowTruncated }
          : { kind: 'bytes', bytes: input, ffmpegPath, allowTruncated };
    this.samples = input instanceof Float32Array ? input : undefined;
    const init: MelWorkerInit = { input: source, nMels };
    this.worker = takeWorker();
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.port.on('message', (reply: MelWorkerReply) => this.receive(reply));
    this.port.unref(); // idle, the run must not keep the process alive either
    this.worker.on('error', this.onError);
    this.worker.on('exit', this.onExit);
    this.worker.postMessage({ port: port2, init }, [port2]);
  }

  private readonly onError = (error: Error): void => this.fail(error);

  private readonly onExit = (code: number): void => {
    this.exited = true;
    this.onClosed?.();
    this.fail(new MoxingError('INTERNAL', `the mel worker stopped unexpectedly (exit code ${code})`));
  };

  /** The mel of `windows` [windows.length, nMels, 3000], read after those of the previous request. */
  prepare(windows: readonly AudioWindow[]): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new MoxingError('INTERNAL', 'MelWorker.prepare after close'));
    if (this.pending) return Promise.reject(new MoxingError('INTERNAL', 'MelWorker.prepare while a request is pending'));
    const samples = this.samples ? windows.map((w) => windowSamples(this.samples as Float32Array, w)) : undefined;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.port.ref(); // a request in flight keeps the process alive until its answer
      const request: MelWorkerRequest = { type: 'prepare', windows, ...(samples ? { samples } : {}) };
      this.port.postMessage(request, samples?.map((s) => s.buffer as ArrayBuffer) ?? []);
    });
  }

  /**
   * Stops the worker: the reading in progress ends at its next window, the file is closed and ffmpeg killed;
   * a worker that does not answer within CLOSE_WAIT_MS is terminated. A pending request is rejected (the
   * caller no longer awaits it). Never throws; safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(new MoxingError('INTERNAL', 'the mel worker was closed'));
    if (this.exited) return this.port.close();
    this.port.ref();
    const closed = new Promise<boolean>((resolve) => (this.onClosed = () => resolve(true)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS)));
    this.port.postMessage({ type: 'close' } satisfies MelWorkerRequest);
    const inOrder = await Promise.race([closed, timeout]);
    clearTimeout(timer);
    this.port.close();
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
    // A thread that closed its run in order is clean for the next; one that did not answer is stopped.
    if (inOrder && !this.exited) giveBack(this.worker);
    else await this.worker.terminate().catch(() => undefined);
  }

  private receive(reply: MelWorkerReply): void {
    if (reply.type === 'closed') {
      this.onClosed?.();
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    if (!this.closing) this.port.unref();
    if (reply.type === 'batch') pending?.resolve(reply.mel);
    else pending?.reject(fromFailure(reply.error));
  }

  private fail(error: Error): void {
    if (this.closing) return; // terminating is the intended end
    this.failure ??= error;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }
}
