/** The runs a process has in flight, with why each was stopped; and the shutdown both backends share. */
import { MoxingError } from '../errors.js';

export interface Running {
  readonly controller: AbortController;
  /** Why it was stopped: a client's cancel, or this process shutting down (then the job is requeued). */
  stop?: 'cancel' | 'shutdown';
  readonly done: Promise<void>;
}

export class RunningJobs extends Map<string, Running> {
  /** Stops the run of `id` at its next window, for `reason`; nothing when none runs here. */
  stopRun(id: string, reason: 'cancel' | 'shutdown'): void {
    const run = this.get(id);
    if (!run) return;
    run.stop ??= reason;
    run.controller.abort(reason === 'cancel' ? new MoxingError('BAD_ARGUMENT', 'the job was cancelled') : new MoxingError('UNAVAILABLE', 'shutting down'));
  }

  /** Waits up to `graceMs` for the runs to finish, then stops the rest (they requeue themselves) and waits for them. */
  async drain(graceMs: number): Promise<void> {
    const all = Promise.all([...this.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const id of this.keys()) this.stopRun(id, 'shutdown');
    await all;
  }
}

/** Cursors are opaque: `c` and the last job's sequence number, base64url. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`c${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const m = /^c(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new MoxingError('BAD_ARGUMENT', 'cursor is not one this server gave out');
  return Number(m[1]);
}
