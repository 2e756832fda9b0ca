/**
 * The whisper.cpp peer of `npm run bench:whisper`: the same weights written as ggml (bench/ggml-whisper.ts) and
 * transcribed by `whisper-cli` from `$WHISPER_CPP_DIR` (built from source: see the README's benchmark section) on
 * the same WAV: greedy (beam 1, best-of 1), no temperature fallback, English, no previous-text context (`-mc 0`,
 * as the moxing runners use conditionOnPreviousText false), the same threads. whisper.cpp decodes each window until
 * end-of-text or its own cap (n_text_ctx / 2 = 224 tokens): it cannot be forced to an exact token count, so the
 * table shows its windows (encoder runs) and tokens (one per window's prompt pass plus one per one-token decoder
 * pass) beside its wall time.
 * Wall time is whisper.cpp's own `total time` less its `load time` (model load excluded, as for the moxing rows).
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { writeWhisperGgml, type GgmlWeightType } from './ggml-whisper.js';
import type { RunnerReport } from './lib.js';

/** `whisper-cli` under $WHISPER_CPP_DIR, or the one-line reason it is not there. */
export function whisperCli(): { cli: string } | { skip: string } {
  const dir = process.env.WHISPER_CPP_DIR;
  if (!dir) return { skip: 'whisper.cpp skipped: WHISPER_CPP_DIR is not set (see the README to build whisper-cli)' };
  for (const cli of [join(dir, 'build', 'bin', 'whisper-cli'), join(dir, 'bin', 'whisper-cli'), join(dir, 'whisper-cli')]) {
    if (existsSync(cli)) return { cli };
  }
  return { skip: `whisper.cpp skipped: no whisper-cli under WHISPER_CPP_DIR (${dir}/build/bin/whisper-cli)` };
}

/** The model's ggml file for `weights`, written next to its ONNX files once (rewritten when they are newer). */
export function ensureGgml(modelDir: string, weights: GgmlWeightType): string {
  const out = join(modelDir, `ggml-model-${weights}.bin`);
  const source = statSync(join(modelDir, 'onnx', 'decoder_model_merged.onnx')).mtimeMs;
  if (!existsSync(out) || statSync(out).mtimeMs < source) writeWhisperGgml(modelDir, out, weights);
  return out;
}

/** The counters and times whisper_print_timings writes to stderr. */
export function parseWhisperTimings(stderr: string): { loadMs: number; totalMs: number; encodeRuns: number; decodeRuns: number } {
  const ms = (label: string) => Number(new RegExp(`${label} time =\\s*([\\d.]+) ms`).exec(stderr)?.[1] ?? NaN);
  const runs = (label: string) => Number(new RegExp(`${label} time =\\s*[\\d.]+ ms /\\s*(\\d+) runs`).exec(stderr)?.[1] ?? NaN);
  const timings = { loadMs: ms('load'), totalMs: ms('total'), encodeRuns: runs('encode'), decodeRuns: runs('decode') };
  if (Object.values(timings).some(Number.isNaN)) throw new Error(`whisper-cli printed no timings:\n${stderr.slice(-2000)}`);
  return timings;
}

function run(cli: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cli, args, { maxBuffer: 64 * 2 ** 20 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`whisper-cli ${args.join(' ')} failed: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve(stderr);
    });
  });
}

/** Transcribes `wav` `repeats` times; the report keeps the fastest. */
export async function whisperCppRunner(cli: string, modelDir: string, wav: string, weights: GgmlWeightType, threads: number | undefined, repeats: number): Promise<RunnerReport> {
  const model = ensureGgml(modelDir, weights);
  const args = ['-m', model, '-f', wav, '-l', 'en', '-bs', '1', '-bo', '1', '-nf', '-mc', '0', '-t', String(threads ?? cpus().length)];
  let best: ReturnType<typeof parseWhisperTimings> | undefined;
  for (let i = 0; i < repeats; i++) {
    const timings = parseWhisperTimings(await run(cli, args));
    if (!best || timings.totalMs - timings.loadMs < best.totalMs - best.loadMs) best = timings;
  }
  if (!best) throw new Error('whisper.cpp runner: repeats must be at least 1');
  return {
    runner: `whisper.cpp-${weights}`,
    wallMs: best.totalMs - best.loadMs,
    peakRssBytes: Number.NaN,
    // A window's first token comes from its prompt pass, each later one from a one-token decoder pass.
    extra: { windows: best.encodeRuns, tokens: best.decodeRuns + best.encodeRuns },
  };
}
