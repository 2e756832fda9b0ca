/**
 * Runs `moxing ARGS...` in this process through `runCli`, capturing what it writes to stdout and stderr.
 * A launch of bin/moxing.js costs seconds of tsx and native-module start-up; this costs milliseconds.
 * Keep one child-process smoke test per command (helpers/cli.ts) for what only a real process shows.
 */
import { runCli } from '../../src/cli/program.js';
import type { CliRun } from './cli.js';

/** `env` entries are set for the run and restored after it (undefined removes a variable). */
export async function runMoxingInProcess(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  // Captures both the string and the Buffer forms; the callback form is honoured so streams do not stall.
  // A stream piped into stdout writes from Readable's `ondata`: that is node:test's reporter (under --test it
  // reports to the parent through stdout), never moxing, so it passes through; swallowing it loses the
  // results of the tests that end while a command runs.
  const capture = (append: (text: string) => void, real: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    ((chunk: string | Uint8Array, encodingOrCallback?: unknown, callback?: unknown): boolean => {
      if (fromPipe()) return (real as (...args: unknown[]) => boolean).call(stream, chunk, encodingOrCallback, callback);
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof process.stdout.write;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  setEnv(env);
  process.stdout.write = capture((text) => (stdout += text), out, process.stdout);
  process.stderr.write = capture((text) => (stderr += text), err, process.stderr);
  try {
    const code = await runCli(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    setEnv(saved);
  }
}

function setEnv(values: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

/** Whether the write in progress comes from `readable.pipe(stdout)` (its caller is Readable's `ondata`). */
function fromPipe(): boolean {
  const caller = new Error().stack?.split('\n')[3] ?? '';
  return caller.includes('ondata (node:internal/streams/readable');
}
