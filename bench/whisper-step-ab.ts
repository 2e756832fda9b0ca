/**
 * The cached decoder step with all load-time rewrites against the exact ones only (`graphRewrites: 'exact'`: the
 * self-attention over a copy of the live cache instead of over the cache buffers, capacity-attention.ts), and for a
 * quantized decoder against all of them but its int8 cross-attention keys (cross-keys.ts), loaded in one process and
 * taking turns, at growing cache lengths, 1 row and 8 rows:
 * `tsx bench/whisper-step-ab.ts [modelDir|'' for bench:whisper's base] [variant=fp32|q8] [rounds=4] [threads=2]`.
 * Each cell is the median over rounds of the median step of a span of positions.
 */
import { WhisperDecoder, WhisperModel, type AudioFeatures, type DecoderRunner } from '../src/asr/whisper/index.js';
import { rewriteWhisperDecoder } from '../src/asr/whisper/decoder-rewrite.js';
import { float32 } from '../src/runtime/index.js';
import { loadRewrittenModel } from '../src/runtime/onnx/rewritten-session.js';
import { BASE_WHISPER, BENCH_MODELS_DIR, ensureWhisperModel } from '../test/models/index.js';

const [dirArg, variantArg = 'fp32', roundsArg = '4', threadsArg = '2'] = process.argv.slice(2);
const modelDir = dirArg || (await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR }));
const variant = variantArg === 'q8' ? 'q8' : 'fp32';
const runtime = { intraOpThreads: Number(threadsArg) };
const [all, exact] = [await WhisperModel.load(modelDir, { runtime, variant }), await WhisperModel.load(modelDir, { runtime, variant, graphRewrites: 'exact' })];

/** The decoder with all rewrites but the int8 cross-attention keys. */
async function floatKeys(): Promise<WhisperDecoder> {
  const load = (path: string) => loadRewrittenModel(path, 'whisper-decoder-float-keys', (graph) => rewriteWhisperDecoder(graph, false, false), runtime);
  const d = all.files.decoder;
  return d.kind === 'merged' ? new WhisperDecoder(all.dims, await load(d.path)) : new WhisperDecoder(all.dims, all.decoder.first, await load(d.decoderWithPast));
}
const float = all.decoder.int8Keys ? await floatKeys() : undefined;
const models: Record<string, (features: AudioFeatures, rowAudio: number[]) => DecoderRunner> = {
  [all.decoder.int8Keys ? 'all, int8 cross keys' : 'over the buffers']: (f, r) => all.createRunner(f, r),
  ...(float ? { 'all but int8 cross keys': (f: AudioFeatures, r: number[]) => float.runner(f, r) } : {}),
  'exact rewrites': (f, r) => exact.createRunner(f, r),
};
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const mel = new Float32Array(80 * 3000).map((_, i) => Math.sin(i * 0.01));
const window = (await exact.encode(mel, 1)).tensor.data as Float32Array;
const spans: Record<number, Array<[number, number]>> = { 1: [[2, 30], [100, 150], [230, 280], [350, 400]], 8: [[2, 30], [100, 130], [190, 224]] };
const cells = new Map<string, number[]>();
for (let round = 0; round < Number(roundsArg); round++) {
  for (const rows of [1, 8]) {
    const hidden = new Float32Array(rows * window.length);
    for (let r = 0; r < rows; r++) hidden.set(window, r * window.length);
    for (const [name, createRunner] of Object.entries(models)) {
      const runner = createRunner({ batch: rows, tensor: float32(hidden, [rows, exact.dims.nAudioCtx, exact.dims.dModel]) }, Array.from({ length: rows }, (_, i) => i));
      await runner.prefill(Array.from({ length: rows }, () => [50258, 50259, 50359, 50363]));
      const times: number[] = [];
      const last = spans[rows].at(-1)![1];
      for (let s = 0; s < last; s++) {
        const started = performance.now();
        await runner.step(Array(rows).fill(220 + (s % 50)));
        times.push(performance.now() - started);
      }
      runner.release?.();
      for (const [from, to] of spans[rows]) {
        const key = `${rows}|${from}-${to}|${name}`;
        cells.set(key, [...(cells.get(key) ?? []), median(times.slice(from, to))]);
      }
    }
  }
}
console.log(`${modelDir} (${variant}), threads ${threadsArg}, ${roundsArg} rounds: cached step, ms`);
for (const rows of [1, 8]) {
  for (const name of Object.keys(models)) {
    const row = spans[rows].map(([from, to]) => `${from}-${to}: ${median(cells.get(`${rows}|${from}-${to}|${name}`) ?? []).toFixed(2)}`);
    console.log(`${rows} row${rows > 1 ? 's' : ''}, ${name}`.padEnd(34), row.join('  '));
  }
}
