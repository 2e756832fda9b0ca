/**
 * The checks `transcribe()`'s and `decode()`'s options share, written once: both entry points take a task,
 * search widths and a length penalty, and must refuse the same bad values with the same words.
 */
import { MoxingError } from '../../errors.js';

export function bad(message: string): never {
  throw new MoxingError('BAD_ARGUMENT', message);
}

export function checkTask(task: unknown): void {
  if (task !== 'transcribe' && task !== 'translate') bad(`task must be "transcribe" or "translate", got "${String(task)}"`);
}

/** beamSize, bestOf and sampleLen: whole numbers from 1, or undefined. */
export function checkCounts(o: Readonly<{ beamSize?: number; bestOf?: number; sampleLen?: number }>): void {
  for (const key of ['beamSize', 'bestOf', 'sampleLen'] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) bad(`${key} must be a whole number >= 1, got ${v}`);
  }
}

export function checkLengthPenalty(lengthPenalty: number | undefined): void {
  if (lengthPenalty !== undefined && !(lengthPenalty >= 0 && lengthPenalty <= 1)) bad(`lengthPenalty must be between 0 and 1, got ${lengthPenalty}`);
}
