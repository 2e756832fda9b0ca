/**
 * The encoder's attention fusion (src/asr/whisper/encoder-rewrite.ts) before and after, on one 30 s window of
 * speech: `npx tsx bench/whisper-encoder-fusion.ts [modelDir] [rounds=9] [threads=2]` (default: the base-sized
 * bench model). For fp32 and q8 (when the `_quantized` files exist), the encoder loaded as exported and fused run
 * interleaved; it prints the median and minimum wall time per window, the median CPU time (all of the process's
 * threads: less sensitive than wall time to other processes taking the cores), the load average, and the largest
 * output difference.
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { WhisperModel } from '../src/asr/whisper/index.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../src/audio/index.js';
import { ensureWhisperModel, BASE_WHISPER, BENCH_MODELS_DIR } from '../test/models/index.js';
import { printTable } from './lib.js';
import { speechWav } from './speech-audio.js';

const [dirArg, roundsArg = '9', threadsArg = '2'] = process.argv.slice(2);
const modelDir = dirArg || (await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR }));
const rounds = Number(roundsArg);
const runtime = { intraOpThreads: Number(threadsArg) };
const mel = logMelSpectrogram(padOrTrim(await decodeAudio(speechWav(30))), 80).data;
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Timed {
  readonly wall: number[];
  readonly cpu: number[];
}

async function timeOnce(model: WhisperModel, into: Timed): Promise<Float32Array> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const { tensor } = await model.encode(mel, 1);
  into.wall.push(performance.now() - start);
  const used = process.cpuUsage(cpu);
  into.cpu.push((used.user + used.system) / 1000);
  return tensor.data as Float32Array;
}

console.log(`${modelDir}: one 30 s window, ${rounds} interleaved rounds, ${threadsArg} threads; load average ${load()}`);
const rows: string[][] = [];
const hasQ8 = existsSync(join(modelDir, 'onnx', 'encoder_model_quantized.onnx'));
for (const variant of hasQ8 ? (['fp32', 'q8'] as const) : (['fp32'] as const)) {
  const [plain, fused] = await Promise.all([false, true].map((graphRewrites) => WhisperModel.load(modelDir, { variant, runtime, graphRewrites })));
  const times: [Timed, Timed] = [
    { wall: [], cpu: [] },
    { wall: [], cpu: [] },
  ];
  const [a, b] = [await timeOnce(plain, { wall: [], cpu: [] }), await timeOnce(fused, { wall: [], cpu: [] })]; // warm-up
  const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  for (let r = 0; r < rounds; r++) {
    await timeOnce(plain, times[0]);
    await timeOnce(fused, times[1]);
  }
  const [p, f] = times.map((t) => ({ wall: median(t.wall), min: Math.min(...t.wall), cpu: median(t.cpu) }));
  rows.push([variant, `${p.wall.toFixed(0)} / ${p.min.toFixed(0)}`, `${f.wall.toFixed(0)} / ${f.min.toFixed(0)}`, `${(p.wall / f.wall).toFixed(2)}x`, `${p.cpu.toFixed(0)} / ${f.cpu.toFixed(0)}`, `${(p.cpu / f.cpu).toFixed(2)}x`, diff.toExponential(1)]);
}
printTable(['encoder', 'as exported: median / min ms', 'fused: median / min ms', 'speed-up (median)', 'CPU ms: exported / fused', 'CPU speed-up', 'max |diff|'], rows);
console.log(`load average after: ${load()}`);
