/** Runs the real `moxing` binary (bin/moxing.js → src/cli/main.ts through tsx) as a user would. */
import { spawn } from 'node:child_process';

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

/** The run failed the way every CLI error must: non-zero exit, one line on stderr matching `pattern`. */
export function assertOneLineError(run: CliRun, pattern: RegExp, exitCode?: number): void {
  if (run.code === 0) throw new Error(`expected a failure, got exit 0\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  if (exitCode !== undefined && run.code !== exitCode) throw new Error(`expected exit ${exitCode}, got ${run.code}: ${run.stderr}`);
  const lines = run.stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got ${lines.length}:\n${run.stderr}`);
  if (!pattern.test(lines[0])) throw new Error(`stderr "${lines[0]}" does not match ${pattern}`);
}
