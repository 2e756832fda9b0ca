/**
 * Runs `moxing ARGS...` in this process through `runCli`, capturing what it writes to stdout and stderr.
 * A launch of bin/moxing.js costs seconds of tsx and native-module start-up; this costs milliseconds.
 * Keep one child-process smoke test per command (helpers/cli.ts) for what only a real process shows.
 */
import { runCli } from '../../src/cli/program.js';
import type { CliRun } from './cli.js';

export async function runMoxingInProcess(args: readonly string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  // Captures both the string and the Buffer forms; the callback form is honoured so streams do not stall.
  const capture = (append: (text: string) => void) =>
    ((chunk: string | Uint8Array, encodingOrCallback?: unknown, callback?: unknown): boolean => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((text) => (stdout += text));
  process.stderr.write = capture((text) => (stderr += text));
  try {
    const code = await runCli(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
