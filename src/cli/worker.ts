/** `moxing worker`: runs the jobs of a Redis queue that `moxing serve --queue` fills, on this process or machine. */
import type { Command } from 'commander';
import { MoxingError } from '../errors.js';
import { DEFAULT_JOBS, type JobOptions } from '../jobs/options.js';
import { addFlags, fieldsOf } from './flags.js';
import { WORKER_JOB_FLAGS } from './job-flags.js';

/** How long a running job may finish after SIGTERM before it goes back to the queue. */
const SHUTDOWN_GRACE_MS = 10_000;

export function register(program: Command): void {
  const command = program
    .command('worker')
    .description('run transcription jobs from a Redis queue (moxing serve --queue); --data-dir must be the folder the server writes to (shared storage)');
  addFlags(command, WORKER_JOB_FLAGS, { ...DEFAULT_JOBS, lockDurationMs: undefined, stalledIntervalMs: undefined });
  command.action(async (_options: unknown, self: Command) => {
    const given = fieldsOf<JobOptions & { lockDurationMs: number; stalledIntervalMs: number }>(self, WORKER_JOB_FLAGS);
    if (given.queue === undefined) throw new MoxingError('BAD_ARGUMENT', 'moxing worker needs --queue redis://HOST:PORT, the queue moxing serve --queue fills');
    const { openJobBackend, resolveJobOptions } = await import('../jobs/index.js');
    const { SpeechModels } = await import('../server/speech-models.js');
    // Jobs name their model as the server was given it; this worker's pool loads each once.
    const speech = new SpeechModels();
    const options = resolveJobOptions(given);
    if (options.jobConcurrency < 1) throw new MoxingError('BAD_ARGUMENT', '--job-concurrency of a worker must be at least 1');
    const backend = await openJobBackend({ ...options, useModel: speech.use.bind(speech), lockDurationMs: given.lockDurationMs, stalledIntervalMs: given.stalledIntervalMs });
    process.stderr.write(`moxing worker: running up to ${options.jobConcurrency} job(s) at once from the queue\n`);
    const stop = (): void => {
      // A running job gets the grace, then goes back to the queue for another worker.
      backend.close(SHUTDOWN_GRACE_MS).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
