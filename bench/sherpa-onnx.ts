/**
 * The sherpa-onnx peer of `npm run bench:whisper`: the same weights written in sherpa-onnx's own Whisper export
 * layout (bench/sherpa-whisper.ts) and transcribed by `sherpa-onnx-node` (a devDependency) the way its
 * vad-with-non-streaming-asr example does: silero VAD (the same silero v5 file moxing bundles), then each speech
 * segment decoded alone by its offline Whisper (greedy, English, no timestamps, its default 1000 frames of tail
 * padding). sherpa-onnx runs in a child process (bench/sherpa-whisper-child.mjs): it SIGSEGVs on model metadata it
 * does not expect. It decodes each segment until end-of-text or its own cap (6 tokens per second of audio, at most
 * n_text_ctx / 2): it cannot be forced to an exact token count, so the table shows its windows (segments) and
 * tokens beside its wall time. The int8 row quantizes both files as export-onnx.py does (quantize_dynamic on the
 * MatMuls, int8 weights; here moxing's dynamic q8 rewrite, embeddings left float).
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sileroModelPath } from '../src/audio/index.js';
import { quantizeFile } from '../src/quantize/index.js';
import type { RunnerReport } from './lib.js';
import { sherpaWhisperFiles, writeSherpaWhisper, type SherpaWhisperFiles } from './sherpa-whisper.js';

const CHILD = fileURLToPath(new URL('./sherpa-whisper-child.mjs', import.meta.url));

/** What the child decodes and how (see sherpa-whisper-child.mjs). */
export interface SherpaJob extends SherpaWhisperFiles {
  threads: number;
  /** A WAV file, or raw little-endian float32 16 kHz samples (`.f32`). */
  audio: string;
  language?: string;
  /** Zero feature frames sherpa-onnx appends before the encoder (its default: 1000; ≥ 3000 gives full 30 s windows). */
  tailPaddings?: number;
  /** A silero VAD model: decode its speech segments one by one. */
  vad?: string;
  repeats?: number;
}

export interface SherpaResult {
  texts: string[];
  windows: number;
  tokens: number;
  /** The fastest repeat, model load excluded. */
  wallMs: number;
}

/** undefined when sherpa-onnx-node can be loaded, else the one-line reason the row is skipped. */
export function sherpaSkipReason(): string | undefined {
  try {
    createRequire(import.meta.url).resolve('sherpa-onnx-node');
    return undefined;
  } catch {
    return 'sherpa-onnx skipped: sherpa-onnx-node is not installed (it is a devDependency: npm install)';
  }
}

/** The weights of a sherpa-onnx row: the float32 export, or its `*.int8.onnx` files (export-onnx.py's names). */
export type SherpaWeights = 'fp32' | 'int8';

/**
 * The sherpa-onnx export of `modelDir` in `weights`, written next to its ONNX files once (rewritten when they are
 * newer).
 */
export async function ensureSherpaExport(modelDir: string, weights: SherpaWeights = 'fp32'): Promise<SherpaWhisperFiles> {
  const dir = join(modelDir, 'sherpa-onnx');
  let files = sherpaWhisperFiles(dir);
  const source = statSync(join(modelDir, 'onnx', 'decoder_model_merged.onnx')).mtimeMs;
  if (!existsSync(files.tokens) || statSync(files.tokens).mtimeMs < source) files = await writeSherpaWhisper(modelDir, dir);
  if (weights === 'fp32') return files;
  const int8 = { ...files, encoder: files.encoder.replace(/\.onnx$/, '.int8.onnx'), decoder: files.decoder.replace(/\.onnx$/, '.int8.onnx') };
  for (const part of ['encoder', 'decoder'] as const) {
    if (existsSync(int8[part]) && statSync(int8[part]).mtimeMs >= statSync(files[part]).mtimeMs) continue;
    quantizeFile(files[part], int8[part], { to: 'q8', method: 'dynamic', embeddingMinElements: Number.MAX_SAFE_INTEGER, force: true });
  }
  return int8;
}

/** Runs one job in the child process. */
export function runSherpaWhisper(job: SherpaJob): Promise<SherpaResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, JSON.stringify(job)], { maxBuffer: 64 << 20, timeout: 900_000 }, (error, stdout, stderr) => {
      if (error) {
        const signal = (error as { signal?: string }).signal;
        reject(new Error(`sherpa-onnx child failed${signal ? ` (${signal})` : ''}: ${error.message.split('\n')[0]}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(stdout) as SherpaResult);
    });
  });
}

/**
 * sherpa-onnx's cap on a window's tokens (offline-whisper-greedy-search-decoder.cc): 6 per second of audio, at
 * most n_text_ctx / 2. Its frames are kaldi-native-fbank's with snip_edges false: ⌊(samples + 80) / 160⌋.
 */
export function sherpaTokenCap(samples: number, nTextCtx = 448): number {
  const frames = Math.floor((samples + 80) / 160);
  return Math.min(Math.trunc((frames / 100) * 6), Math.floor(nTextCtx / 2));
}

/** The benchmark row: VAD + offline Whisper on `wav`, the fastest of `repeats`. */
export async function sherpaRunner(modelDir: string, wav: string, weights: SherpaWeights, threads: number | undefined, repeats: number): Promise<RunnerReport> {
  const files = await ensureSherpaExport(modelDir, weights);
  const result = await runSherpaWhisper({ ...files, threads: threads ?? cpus().length, audio: wav, vad: sileroModelPath(), repeats });
  return { runner: `sherpa-onnx-${weights}`, wallMs: result.wallMs, peakRssBytes: Number.NaN, extra: { windows: result.windows, tokens: result.tokens } };
}
