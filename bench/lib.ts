/**
 * Shared pieces of the benchmarks: each runner runs in its own child process (so peak RSS is its own), and
 * the parent prints one table with ratios against the peer. Times are the minimum of the repeats: noise on a
 * shared machine only ever adds time (faster-whisper's speed_benchmark.py reasons the same way).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { quantizeModelDir } from '../src/quantize/index.js';
import type { LlmSpec } from '../test/models/index.js';

const WORK_DIR = join(process.cwd(), 'bench', '.work');

export function workDir(...parts: string[]): string {
  const dir = join(WORK_DIR, ...parts);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  return dir;
}

export interface RunnerReport {
  readonly runner: string;
  /** Wall time of the measured work (model load excluded), milliseconds, minimum over repeats. */
  readonly wallMs: number;
  /** Peak resident set size of the runner's process, bytes. */
  readonly peakRssBytes: number;
  /** Anything else the runner measured (tokens, items). */
  readonly extra: Readonly<Record<string, number | string>>;
}

/**
 * Runs `script` under tsx in a child process with `args`; the child prints one JSON RunnerReport line last.
 * `echo` also shows what the child prints (but its report line) as it comes. `loader: []` runs a JavaScript
 * script on plain node (see bench/compile.ts).
 */
export function runChild(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, echo = false, loader: readonly string[] = ['--import', 'tsx']): Promise<RunnerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...loader, script, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (echo) process.stdout.write(chunk.toString().split('\n').filter((line) => !line.startsWith('{"runner"')).join('\n'));
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${script} ${args.join(' ')} exited with ${code}\n${out}`));
      try {
        resolve(JSON.parse(last) as RunnerReport);
      } catch {
        reject(new Error(`${script} printed no report:\n${out}`));
      }
    });
  });
}

/** Prints the child's report as its last stdout line (the parent parses it). */
export function emitReport(report: RunnerReport): void {
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/**
 * The process's own peak resident set. On Linux that is VmHWM: getrusage's maxRSS (resourceUsage().maxRSS) starts a
 * spawned child at its parent's resident set at the fork (Linux carries it across exec), so a runner under a big
 * parent reported the parent's memory (a 39 MB child of a 300 MB parent read 304 MB).
 */
export function peakRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // Not Linux: getrusage below.
  }
  // resourceUsage().maxRSS is in kilobytes.
  return process.resourceUsage().maxRSS * 1024;
}

export async function minTime(repeats: number, work: () => Promise<void>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await work();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

export function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

/** Makes a model folder's q8 (`_quantized`) files once; the reason when that fails (the q8 rows are then skipped), else undefined. */
export function ensureQ8(dir: string): string | undefined {
  if (readdirSync(join(dir, 'onnx')).some((f) => f.endsWith('_quantized.onnx'))) return undefined;
  try {
    quantizeModelDir(dir, { to: 'q8' });
    return undefined;
  } catch (error) {
    return `q8 skipped: moxing quantize failed: ${(error as Error).message}`;
  }
}

/** The chat benches' random model: Qwen2.5-0.5B's width, heads and MLP; `vocab` undefined keeps the tokenizer's own. */
export function qwenShapedSpec(layers: number, vocab?: number): LlmSpec {
  return { name: 'qwen-0.5b-shaped', hidden: 896, layers, heads: 14, kvHeads: 2, intermediate: 4864, merges: 200, tied: true, seed: 5, ropeTheta: 1_000_000, ...(vocab === undefined ? {} : { vocab }) };
}
