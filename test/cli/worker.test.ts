/** `moxing worker` and the job flags of `moxing serve`, in-process: the flags, their checks, and the queue's absence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { assertOneLineError } from '../helpers/cli.js';
import { parseDurationMs } from '../../src/cli/job-flags.js';
import { scratchDir } from '../helpers/scratch.js';

const dataDir = (): string => scratchDir('moxing-worker-');

test('worker: --queue is required and must be a redis:// URL; an unreachable Redis is one line, exit 1', async () => {
  assertOneLineError(await runMoxingInProcess(['worker', '--data-dir', dataDir()]), /needs --queue redis:\/\/HOST:PORT/);
  assertOneLineError(await runMoxingInProcess(['worker', '--queue', 'http://127.0.0.1:6379', '--data-dir', dataDir()]), /--queue takes redis:\/\/HOST:PORT/);
  assertOneLineError(await runMoxingInProcess(['worker', '--queue', 'redis://127.0.0.1:1', '--data-dir', dataDir()]), /cannot reach the job queue's Redis/, 1);
  assertOneLineError(await runMoxingInProcess(['worker', '--queue', 'redis://127.0.0.1:1', '--job-concurrency', '0', '--data-dir', dataDir()]), /at least 1/);
  assertOneLineError(await runMoxingInProcess(['worker', '--queue', 'redis://127.0.0.1:1', '--lock-duration-ms', '5', '--data-dir', dataDir()]), /--lock-duration-ms must be a whole number from 100/);
});

test('serve: the job flags are in its help, and --job-concurrency 0 needs a queue', async () => {
  const help = await runMoxingInProcess(['serve', '--help']);
  for (const flag of ['--data-dir', '--job-ttl-ms', '--job-concurrency', '--allow-private-webhooks', '--queue']) assert.match(help.stdout, new RegExp(flag));
  assertOneLineError(await runMoxingInProcess(['serve', '--port', '0', '--no-log', '--job-concurrency', '0', '--data-dir', dataDir()]), /needs a queue/);
  assertOneLineError(await runMoxingInProcess(['serve', '--port', '0', '--no-log', '--job-ttl', 'soon', '--data-dir', dataDir()]), /--job-ttl takes a duration/);
});

test('durations: 7d, 12h, 30m, 90s, 500ms and plain ms', () => {
  const parse = parseDurationMs('--job-ttl-ms');
  assert.deepEqual(['7d', '12h', '30m', '90s', '500ms', '1500', '0'].map(parse), [604_800_000, 43_200_000, 1_800_000, 90_000, 500, 1500, 0]);
  assert.throws(() => parse('-1'), /takes a duration/);
  assert.throws(() => parse('1w'), /takes a duration/);
});
