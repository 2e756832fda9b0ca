/**
 * Inference lanes: worker threads that each hold a single-threaded ONNX Runtime session of one model, so a
 * batch can be split and its parts run at the same time, and the main thread stays free to decode and resize
 * the next batch meanwhile. On a shared 2-core machine this beat one two-thread session (bench/vision.ts):
 * ORT's intra-op threads meet after every operator, so a core taken by another process stalls its partner,
 * while independent lanes each progress whenever they get a core.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export interface LaneInit {
  readonly path: string;
  readonly intraOpThreads: number;
  readonly graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
}

export type LaneOutputs = Record<string, { data: Float32Array; dims: readonly number[] }>;

interface LaneRequest {
  readonly id: number;
  readonly data: Float32Array;
  readonly dims: readonly number[];
  readonly fetches: readonly string[];
}

type LaneReply = { readonly id: number; readonly outputs: LaneOutputs } | { readonly id: number; readonly error: string };

/**
 * The worker's program: plain JavaScript, so it runs the same from the TypeScript sources (tsx does not load
 * into workers on Node 20) and from the build. It imports onnxruntime-node by the URL the main thread resolved.
 * ORT's Node binding runs a session synchronously on its calling thread, hence a thread per lane.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ready = import(workerData.ortUrl).then((ort) =>
  ort.InferenceSession.create(workerData.path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: workerData.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: workerData.graphOptimization,
    executionMode: 'sequential',
  }).then((session) => ({ ort, session })));
ready.catch(() => undefined);
parentPort.on('message', async (request) => {
  try {
    const { ort, session } = await ready;
    const out = await session.run({ pixel_values: new ort.Tensor('float32', request.data, request.dims) }, request.fetches);
    const outputs = {};
    for (const name of request.fetches) outputs[name] = { data: out[name].data, dims: out[name].dims };
    parentPort.postMessage({ id: request.id, outputs });
  } catch (error) {
    parentPort.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) });
  }
});
`;

// Resolved here (import.meta.resolve is synchronous only from Node 20.6), so the worker loads the same ORT build.
const ORT_URL = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;

interface Job {
  readonly request: Omit<LaneRequest, 'id'>;
  readonly resolve: (outputs: LaneOutputs) => void;
  readonly reject: (error: Error) => void;
}

/** One worker thread, one job at a time. */
class Lane {
  private readonly worker: Worker;
  private job: Job | null = null;
  private failure: Error | null = null;

  constructor(
    init: LaneInit,
    private readonly onIdle: () => void,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...init, ortUrl: ORT_URL } });
    this.worker.unref(); // an idle lane must not keep the process alive
    this.worker.on('message', (reply: LaneReply) => {
      const job = this.job;
      this.job = null;
      this.worker.unref();
      if ('error' in reply) job?.reject(new Error(reply.error));
      else job?.resolve(reply.outputs);
      this.onIdle();
    });
    const fail = (error: Error): void => {
      this.failure ??= error;
      this.job?.reject(error);
      this.job = null;
      this.onIdle();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`inference worker exited with code ${code}`)));
  }

  /** Free to take a job: not running one and not dead. */
  get idle(): boolean {
    return this.job === null && this.failure === null;
  }

  /** Why the worker died, or null while it lives. */
  get failed(): Error | null {
    return this.failure;
  }

  start(job: Job): void {
    this.job = job;
    this.worker.ref(); // a running job keeps the process alive until its answer arrives
    this.worker.postMessage({ id: 0, ...job.request } satisfies LaneRequest, [job.request.data.buffer as ArrayBuffer]);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * A fixed set of lanes over one ONNX file with one queue: a lane that finishes takes the next job, so the
 * parts of the next batch start while a slower lane still works on this one.
 */
export class LanePool {
  private readonly lanes: Lane[];
  private readonly queue: Job[] = [];

  constructor(init: LaneInit, count: number) {
    this.lanes = Array.from({ length: count }, () => new Lane(init, () => this.dispatch()));
  }

  get size(): number {
    return this.lanes.length;
  }

  /** Runs one batch on the next free lane. `data` is transferred to the worker (unusable here afterwards). */
  run(data: Float32Array, dims: readonly number[], fetches: readonly string[]): Promise<LaneOutputs> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { data, dims, fetches }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const lane of this.lanes) {
      const job = lane.idle ? this.queue.shift() : undefined;
      if (job) lane.start(job);
    }
    // Dead lanes take no jobs; once none is left alive, fail what waits instead of leaving it pending forever.
    const failure = this.lanes.every((l) => l.failed) ? this.lanes[0]?.failed : null;
    if (failure) for (const job of this.queue.splice(0)) job.reject(failure);
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.terminate()));
  }
}
