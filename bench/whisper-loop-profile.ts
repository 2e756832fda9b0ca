/**
 * `npm run bench:whisper -- --profile`: where one token of the sequential long-form loop goes, and what a
 * decoder step costs against the bytes it must read.
 * `tsx bench/whisper-loop-profile.ts <modelDir> <wav> <rounds> [variant=fp32] [threads] [exported|exact]` (`exported`:
 * both graphs loaded as exported, without the load-time rewrites; `exact`: only the rewrites that change no value;
 * for a before/after in one run).
 *
 * 1. The sequential loop as users run it (openai `transcribe()`: timestamps, previous text as prompt,
 *    greedy, English; no fallback, so every round does the same work), with the token loop's phases timed
 *    (src/asr/whisper/profile.ts): ORT run, KV and feed handling, suppression, timestamp rules, sampling,
 *    bookkeeping; first passes (prompt prefill + cross-attention K/V) apart.
 * 2. The isolated step: one row, a 4-token prompt, 24 cached steps; and 8 rows the same way (batched step),
 *    measured before and after each round of the loop; and 8 rows over 200 steps (the self-attention cache grown
 *    to where long windows decode).
 * 3. Memory bandwidth (a STREAM-like copy of 256 MB arrays) and the decoder's bytes per step: the weights the
 *    cached branch reads (from the ONNX file), the cross-attention K/V (fixed) and the self-attention KV
 *    (at the loop's mean length). The step time is reported as a multiple of bytes / bandwidth.
 * Medians over `rounds`; the machine may be shared, so compare ratios within one run.
 */
import { readFileSync } from 'node:fs';
import { decodeAudio } from '../src/audio/index.js';
import { DecodingTask, WhisperModel, transcribe, type AudioFeatures } from '../src/asr/whisper/index.js';
import { emptyDecodeProfile, setDecodeProfile, type DecodeProfile } from '../src/asr/whisper/profile.js';
import { float32 } from '../src/runtime/index.js';
import { decodeModel, graphsOf, type GraphProto, type TensorProto } from '../src/runtime/onnx/index.js';
import { emitReport, peakRssBytes } from './lib.js';

const [modelDir, wav, roundsArg = '3', variant = 'fp32', threadsArg, rewrites] = process.argv.slice(2);
const rounds = Number(roundsArg);
const runtime = threadsArg ? { intraOpThreads: Number(threadsArg) } : {};
const graphRewrites = rewrites === 'exported' ? false : rewrites === 'exact' ? 'exact' : true;
const rewritesLabel = { exported: ', as exported', exact: ', exact rewrites only' }[rewrites ?? ''] ?? '';
const model = await WhisperModel.load(modelDir, { runtime, variant: variant as 'fp32' | 'q8', graphRewrites });
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** STREAM copy: bytes moved (read + write) per second, median of 5 copies of a 256 MB array. */
function copyBandwidth(): number {
  const n = 32 * 2 ** 20;
  const a = new Float64Array(n).fill(1);
  const b = new Float64Array(n);
  const rates: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    b.set(a);
    const s = (performance.now() - t) / 1000;
    if (i > 0) rates.push((2 * n * 8) / s);
  }
  return median(rates);
}

function tensorBytes(t: TensorProto): number {
  if (t.rawData && t.rawData.length > 0) return t.rawData.length;
  const count = (t.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
  const width: Record<number, number> = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 2, 11: 8, 16: 2 };
  return count * (width[t.dataType ?? 1] ?? 4);
}

/** Bytes of the initializers the cached (with-past) branch of the decoder reads. */
function cachedStepWeightBytes(): number {
  const d = model.files.decoder;
  const file = d.kind === 'merged' ? d.path : d.decoderWithPast;
  const proto = decodeModel(readFileSync(file));
  const graph = proto.graph as GraphProto;
  const initializers = new Map<string, TensorProto>();
  for (const g of graphsOf(graph)) for (const t of g.initializer ?? []) initializers.set(t.name as string, t);
  // Merged: the If node's then-branch is use_cache_branch=true; split: the whole with-past graph.
  const ifNode = (graph.node ?? []).find((n) => n.opType === 'If');
  const branch = ifNode ? ((ifNode.attribute ?? []).find((a) => a.name === 'then_branch')?.g as GraphProto) : graph;
  const used = new Set<string>();
  for (const g of graphsOf(branch)) for (const n of g.node ?? []) for (const input of n.input ?? []) if (initializers.has(input)) used.add(input);
  let bytes = 0;
  for (const name of used) bytes += tensorBytes(initializers.get(name) as TensorProto);
  return bytes;
}

const samples = await decodeAudio(wav);
const eot = model.tokenizer.eot;
const loopOptions = {
  model,
  language: 'en',
  temperature: 0,
  compressionRatioThreshold: null,
  logprobThreshold: null,
  noSpeechThreshold: null,
};

/** Mean ORT time of one cached step of `rows` rows: a 4-token prompt, `steps` steps, EOT suppressed so every step runs. */
async function stepMs(rows: number, steps = 24): Promise<number> {
  const size = model.dims.nAudioCtx * model.dims.dModel;
  const one = (await model.encode(new Float32Array(model.dims.nMels * 3000).fill(-0.5))).tensor.data as Float32Array;
  const joined = new Float32Array(rows * size);
  for (let r = 0; r < rows; r++) joined.set(one, r * size);
  const features: AudioFeatures = { batch: rows, tensor: float32(joined, [rows, model.dims.nAudioCtx, model.dims.dModel]) };
  const profile = emptyDecodeProfile();
  setDecodeProfile(profile);
  await new DecodingTask(model, { language: 'en', withoutTimestamps: true, sampleLen: steps + 1, suppressTokens: [-1, eot] }).run(features);
  setDecodeProfile(undefined);
  return profile.ortMs / profile.steps;
}

// The sequential loop, profiled; the isolated steps measured next to each round, so that load changes
// between rounds move both sides of each ratio.
const profiles: DecodeProfile[] = [];
const walls: number[] = [];
const steps1: number[] = [];
const steps8: number[] = [];
let windows = 0;
let tokens = 0;
for (let r = 0; r < rounds; r++) {
  steps1.push(await stepMs(1));
  const profile = emptyDecodeProfile();
  setDecodeProfile(profile);
  const t = performance.now();
  const result = await transcribe(samples, loopOptions);
  walls.push(performance.now() - t);
  setDecodeProfile(undefined);
  profiles.push(profile);
  windows = profile.prefills;
  tokens = profile.tokens;
  if (result.segments.length === 0) throw new Error('the loop gave no segments');
  steps8.push(await stepMs(8));
  steps1.push(await stepMs(1));
}
const step1 = median(steps1);
const step8 = median(steps8);
const step8Long = await stepMs(8, 200);

// 3. Bytes per step against bandwidth.
const bandwidth = copyBandwidth();
const weightBytes = cachedStepWeightBytes();
const { decoderLayers: layers, dModel, nAudioCtx } = model.dims;
// Values in float32; keys too, or as int8 with a float32 scale per position (cross-keys.ts, quantized decoders).
const crossKeyBytes = model.decoder.int8Keys ? nAudioCtx * (dModel + (dModel / model.dims.headDim) * 4) : nAudioCtx * dModel * 4;
const crossBytes = layers * (crossKeyBytes + nAudioCtx * dModel * 4);
const mid = profiles[Math.floor(rounds / 2)];
const meanSelfLength = mid.prefillTokens / Math.max(1, mid.prefills) + mid.tokens / Math.max(1, mid.prefills) / 2;
const selfBytes = layers * 2 * meanSelfLength * dModel * 4;
const floorMs = (bytes: number): number => (bytes / bandwidth) * 1000;

const per = (key: keyof DecodeProfile): number => median(profiles.map((p) => p[key] / p.tokens));
const loopPerToken = median(walls.map((w, i) => w / profiles[i].tokens));
const phases: [string, number][] = [
  ['ORT run (cached step)', per('ortMs')],
  ['present KV, feeds, reorder', per('kvMs')],
  ['suppression filters', per('suppressMs')],
  ['timestamp rules', per('timestampMs')],
  ['sampling (argmax + logsumexp)', per('samplingMs')],
  ['bookkeeping', per('bookkeepingMs')],
  ['first passes (prefill + cross K/V)', per('prefillMs')],
];
const accounted = phases.reduce((n, [, v]) => n + v, 0);
phases.push(['rest (mel, encoder, segments)', loopPerToken - accounted]);

console.log(`model ${modelDir} (${variant}${rewritesLabel}), ${samples.length / 16000} s, threads ${threadsArg || 'default'}, median of ${rounds}`);
console.log(`sequential loop: ${windows} windows, ${tokens} tokens, ${mid.prefillTokens} first-pass tokens in ${mid.prefills} first passes, wall ${(median(walls) / 1000).toFixed(2)} s`);
for (const [name, ms] of phases) console.log(`  ${name.padEnd(36)} ${ms.toFixed(3).padStart(8)} ms/token  ${((100 * ms) / loopPerToken).toFixed(1).padStart(5)}%`);
console.log(`  ${'loop total'.padEnd(36)} ${loopPerToken.toFixed(3).padStart(8)} ms/token`);
const decodePerToken = loopPerToken - (loopPerToken - accounted);
console.log(`decode per token (all phases above but the rest) / isolated 1-row step: ${(decodePerToken / step1).toFixed(2)}x (${decodePerToken.toFixed(2)} / ${step1.toFixed(2)} ms)`);
console.log(`batched step: 8 rows ${step8.toFixed(2)} ms / 1 row ${step1.toFixed(2)} ms = ${(step8 / step1).toFixed(2)}x; 8 rows over 200 steps ${step8Long.toFixed(2)} ms`);
console.log(`copy bandwidth ${(bandwidth / 1e9).toFixed(1)} GB/s (one thread); decoder weights read per step ${(weightBytes / 1e6).toFixed(1)} MB, cross K/V ${(crossBytes / 1e6).toFixed(1)} MB per row, self KV ${(selfBytes / 1e6).toFixed(1)} MB per row at the loop's mean length ${meanSelfLength.toFixed(0)}`);
console.log(`1-row step / (weights / bandwidth): ${(step1 / floorMs(weightBytes)).toFixed(2)}x; / (weights + cross K/V): ${(step1 / floorMs(weightBytes + crossBytes)).toFixed(2)}x (floor ${floorMs(weightBytes + crossBytes).toFixed(2)} ms)`);
console.log(`8-row step / (weights + 8 x cross K/V) / bandwidth: ${(step8 / floorMs(weightBytes + 8 * crossBytes)).toFixed(2)}x (floor ${floorMs(weightBytes + 8 * crossBytes).toFixed(2)} ms)`);
emitReport({
  runner: `profile-${variant}${rewrites === 'exported' || rewrites === 'exact' ? `-${rewrites}` : ''}`,
  wallMs: median(walls),
  peakRssBytes: peakRssBytes(),
  extra: { windows, tokens, loopPerToken, decodePerToken, step1, step8, step8Long, bandwidth, weightBytes, ...Object.fromEntries(phases) },
});
