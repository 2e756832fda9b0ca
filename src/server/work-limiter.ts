/**
 * One global limit on model work. A model run takes every core ONNX Runtime is given, so a few at once is all a
 * machine can do; more would only make every answer slower. Past the running slots a bounded number of requests
 * wait; past that the answer is 429 with Retry-After, at once, rather than a queue that grows without end.
 */
import { MoxingError } from '../errors.js';

export interface WorkLimiterOptions {
  /** Work items running at once. */
  maxConcurrent: number;
  /** Work items waiting for a slot. */
  maxQueued: number;
}

export class WorkLimiter {
  private running = 0;
  private readonly waiting: { start: () => void; abandon: () => void }[] = [];

  constructor(private readonly options: WorkLimiterOptions) {
    if (!(options.maxConcurrent >= 1)) throw new MoxingError('BAD_ARGUMENT', `maxConcurrentWork must be at least 1, got ${options.maxConcurrent}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` when a slot is free. The slot is held until `work` settles, even when the request that asked
   * for it has timed out or gone: the cores stay busy until then. A request aborted while it waits gives its
   * place up without running.
   */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.running < this.options.maxConcurrent) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.options.maxQueued) {
      return Promise.reject(
        new MoxingError('BUSY', `the server is busy (${this.running} running, ${this.waiting.length} waiting); retry shortly`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', entry.abandon);
          this.running++;
          resolve();
        },
        abandon: () => {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(abortError(signal));
        },
      };
      signal?.addEventListener('abort', entry.abandon, { once: true });
      this.waiting.push(entry);
    });
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.start();
  }
}

function abortError(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new MoxingError('TIMEOUT', 'the request was abandoned before its work started');
}
