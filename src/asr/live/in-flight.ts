/**
 * A decode that runs while its stream goes on hearing audio (transcriber.ts, 'vad' policy): a partial, read
 * at a later push, or a final decoded ahead of its turn's end. Its answer is read once it has come, and it can
 * be called off (the AbortSignal handed to LiveDecoder).
 */
export class InFlight<T> {
  private readonly stop = new AbortController();
  private outcome: { readonly value?: T; readonly error?: unknown } | undefined;
  /** Its answer: undefined when it was dropped or called off. */
  readonly result: Promise<T | undefined>;

  constructor(start: (signal: AbortSignal) => Promise<T | undefined>) {
    this.result = start(this.stop.signal);
    // Also marks a failure as handled: it matters only to whoever reads the answer.
    this.result.then(
      (value) => (this.outcome = { value }),
      (error: unknown) => (this.outcome = { error }),
    );
  }

  get answered(): boolean {
    return this.outcome !== undefined;
  }

  /** The answer once it has come (undefined: dropped, called off, or not yet); rethrows its failure. */
  answer(): T | undefined {
    if (this.outcome?.error !== undefined) throw this.outcome.error;
    return this.outcome?.value;
  }

  /** Calls it off, unless it has answered. */
  callOff(): void {
    if (!this.outcome) this.stop.abort();
  }
}
