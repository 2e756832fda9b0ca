/** Runs the real `moxing` binary (bin/moxing.js → src/cli/main.ts through tsx) as a user would. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runMoxing(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/moxing.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `moxing serve`'s line once it listens; its group is the base URL. */
export const SERVING_ON = /serving on (http:\/\/\S+)/;

/**
 * Starts `moxing ARGS...` as a long-running process and waits for the stderr line matching `ready`; `line` is
 * its first group (serve's base URL with SERVING_ON). A process that exits first rejects with what it printed.
 */
export function startMoxing(args: readonly string[], ready: RegExp = SERVING_ON, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['bin/moxing.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
      const m = text.match(ready);
      if (m) resolve({ child, line: m[1] ?? m[0] });
    });
    child.on('exit', (code) => reject(new Error(`moxing ${args[0]} exited with ${code}: ${text}`)));
  });
}

/** The run failed the way every CLI error must: non-zero exit, one line on stderr matching `pattern`. */
export function assertOneLineError(run: CliRun, pattern: RegExp, exitCode?: number): void {
  if (run.code === 0) throw new Error(`expected a failure, got exit 0\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  if (exitCode !== undefined && run.code !== exitCode) throw new Error(`expected exit ${exitCode}, got ${run.code}: ${run.stderr}`);
  const lines = run.stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${run.stderr}`);
  if (!pattern.test(lines[0])) throw new Error(`stderr "${lines[0]}" does not match ${pattern}`);
}
