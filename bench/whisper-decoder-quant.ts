/**
 * `tsx bench/whisper-decoder-quant.ts`: which weight format makes the q8 Whisper decoder step cheapest without
 * changing what it decodes? On the base-sized random model, against today's q8 decoder (int8 per column, dynamic
 * activations: quantize_dynamic's pattern), the candidates:
 * - MatMulNBits 8-bit, accuracy_level 4 (ORT quantizes the activations to int8 inside the kernel);
 * - MatMulNBits 4-bit, accuracy_level 4 (block 32, zero points: the chat engine's q4 at level 4);
 * - today's q8 with the lm-head (the tied vocabulary projection, the largest MatMul of a step) as MatMulNBits 8-bit;
 * - MatMulNBits 4-bit with an 8-bit lm-head;
 * - today's q8 with the step's cross-attention scores over int8 keys (cross-keys.ts; the default load), against
 *   the others loaded with `graphRewrites: 'exact'` (float32 keys).
 * Every candidate decodes with the q8 encoder. Measured per candidate:
 * 1. the cached decoder step as moxing runs it (DecoderRunner.step: ORT run and KV handling), one row: the median
 *    over `--rounds` × `--steps` steps, the candidates taking turns step by step so load changes hit all alike;
 * 2. logits against the fp32 decoder, teacher-forced on the fp32 greedy tokens over the fp32 encoder's features
 *    of dev clips: max |Δ logit| and how many steps' argmax differs;
 * 3. greedy transcripts of the dev clips (openai's transcribe, T = 0, no fallback): how many equal fp32's and today's
 *    q8's, and how many tokens each keeps equal to fp32's before the first difference.
 * Options: --clips 4 --steps 24 --rounds 3 --threads N --sample-len 48 (tokens per window of the transcripts: a random
 * model rarely ends a window, and a shorter cap keeps the run short). Compare ratios within one run: the machine may be shared.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { decodeAudio, logMelSpectrogram, padOrTrim, type MelBins } from '../src/audio/index.js';
import { WhisperModel, transcribe, type AudioFeatures } from '../src/asr/whisper/index.js';
import { quantizeFile, quantizeModelDir, type QuantizeOptions } from '../src/quantize/index.js';
import { BASE_WHISPER, BENCH_MODELS_DIR, ensureWhisperModel } from '../test/models/index.js';
import { printTable, workDir } from './lib.js';

const { values } = parseArgs({
  options: {
    clips: { type: 'string', default: '4' },
    steps: { type: 'string', default: '24' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string' },
    'sample-len': { type: 'string', default: '48' },
  },
});
const runtime = values.threads ? { intraOpThreads: Number(values.threads) } : {};
const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Candidate {
  name: string;
  /** How the decoder is quantized; undefined: today's q8 file as it is. */
  options?: Partial<QuantizeOptions>;
  /** `'exact'`: loaded without the rewrites that move values (float32 cross-attention keys); default all of them. */
  graphRewrites?: 'exact';
}

const CANDIDATES: readonly Candidate[] = [
  { name: 'q8 today (int8 dynamic), float32 cross keys', graphRewrites: 'exact' },
  { name: 'q8 today + int8 cross keys (the default)' },
  { name: 'MatMulNBits 8-bit, level 4', options: { to: 'q8', method: 'matmulnbits', accuracyLevel: 4 }, graphRewrites: 'exact' },
  { name: 'MatMulNBits 4-bit, level 4', options: { to: 'q4', method: 'matmulnbits', accuracyLevel: 4 }, graphRewrites: 'exact' },
  { name: 'q8 today + 8-bit NBits lm-head', options: { to: 'q8', method: 'dynamic', headBits: 8, accuracyLevel: 4 }, graphRewrites: 'exact' },
  { name: 'MatMulNBits 4-bit + 8-bit lm-head', options: { to: 'q4', method: 'matmulnbits', headBits: 8, accuracyLevel: 4 }, graphRewrites: 'exact' },
];

const base = await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR });
if (!readdirSync(join(base, 'onnx')).some((f) => f.endsWith('_quantized.onnx'))) quantizeModelDir(base, { to: 'q8' });

/**
 * A folder that loads as variant q8 with the base model's q8 encoder and the candidate's decoder: the side files
 * and the encoder are links into the base model.
 */
function candidateDir(c: Candidate): string {
  // Named by the quantization options, so that two candidates with one decoder file share it.
  const dir = workDir('decoder-quant', c.options ? Object.entries(c.options).map(([key, value]) => `${key}-${value}`).join('_') : 'q8-today');
  const onnx = join(dir, 'onnx');
  mkdirSync(onnx, { recursive: true });
  for (const f of readdirSync(base)) if (f !== 'onnx' && !existsSync(join(dir, f))) symlinkSync(join(base, f), join(dir, f));
  const link = (from: string, to: string) => existsSync(to) || symlinkSync(from, to);
  link(join(base, 'onnx', 'encoder_model_quantized.onnx'), join(onnx, 'encoder_model_quantized.onnx'));
  const decoder = join(onnx, 'decoder_model_merged_quantized.onnx');
  if (!c.options) link(join(base, 'onnx', 'decoder_model_merged_quantized.onnx'), decoder);
  else if (!existsSync(decoder)) quantizeFile(join(base, 'onnx', 'decoder_model_merged.onnx'), decoder, c.options);
  return dir;
}

const dirs = CANDIDATES.map(candidateDir);
const fp32 = await WhisperModel.load(base, { runtime });
const models = await Promise.all(dirs.map((dir, i) => WhisperModel.load(dir, { variant: 'q8', runtime, graphRewrites: CANDIDATES[i].graphRewrites ?? true })));
const tokenizer = fp32.tokenizer;
const prompt = tokenizer.sotSequenceIncludingNoTimestamps('en');

const manifest = JSON.parse(readFileSync(join(SHARED, 'audio/dev/manifest.json'), 'utf8')) as {
  clips: { path: string; kind: string; language: string }[];
};
const clips = manifest.clips.filter((c) => c.kind === 'single' && c.language === 'en').slice(0, Number(values.clips));
const audio = await Promise.all(clips.map((c) => decodeAudio(join(SHARED, 'audio/dev', c.path))));
const features: AudioFeatures[] = [];
for (const samples of audio) features.push(await fp32.encode(logMelSpectrogram(padOrTrim(samples), fp32.dims.nMels as MelBins).data));

/** Greedy tokens of `model` after the prompt (EOT suppressed: every step runs), and the logits of each step. */
async function teacherForced(model: WhisperModel, f: AudioFeatures, forced: readonly number[] | undefined, steps: number) {
  const runner = model.createRunner(f, [0]);
  const logits: Float32Array[] = [(await runner.prefill([prompt])).last.slice()];
  const tokens: number[] = [];
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const last = logits[logits.length - 1];
    const next = forced ? forced[i] : argmaxBelow(last, tokenizer.eot);
    tokens.push(next);
    const t = performance.now();
    logits.push((await runner.step([next])).slice());
    stepMs.push(performance.now() - t);
  }
  return { tokens, logits, stepMs };
}

/** Argmax over the text tokens (ids below EOT). */
function argmaxBelow(logits: Float32Array, end: number): number {
  let best = 0;
  for (let i = 1; i < end; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

const steps = Number(values.steps);
console.log(`base-sized random model ${base}; ${clips.length} en dev clips; ${steps} steps; ${values.rounds} rounds; threads ${values.threads ?? 'default'}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// fp32's greedy tokens and logits: the reference of 2.
const reference: Awaited<ReturnType<typeof teacherForced>>[] = [];
for (const f of features) reference.push(await teacherForced(fp32, f, undefined, steps));
// 1. Step time: the candidates take turns step by step, so load changes on a shared machine hit all of them alike.
const stepTimes: number[][] = CANDIDATES.map(() => []);
for (let r = 0; r < Number(values.rounds); r++) {
  const runners = models.map((model) => model.createRunner(features[0], [0]));
  for (const runner of runners) await runner.prefill([prompt]);
  for (const token of reference[0].tokens) {
    for (let m = 0; m < runners.length; m++) {
      const t = performance.now();
      await runners[m].step([token]);
      stepTimes[m].push(performance.now() - t);
    }
  }
}

console.log(CANDIDATES.map((cand, m) => `${cand.name}: step ${median(stepTimes[m]).toFixed(2)} ms`).join('; '));

// 2. Logits against fp32 (teacher-forced on fp32's greedy tokens).
const maxDiff = CANDIDATES.map(() => 0);
const argmaxChanged = CANDIDATES.map(() => 0);
for (let m = 0; m < models.length; m++) {
  for (let c = 0; c < features.length; c++) {
    const run = await teacherForced(models[m], features[c], reference[c].tokens, steps);
    run.logits.forEach((l, i) => {
      const ref = reference[c].logits[i];
      for (let v = 0; v < l.length; v++) maxDiff[m] = Math.max(maxDiff[m], Math.abs(l[v] - ref[v]));
      if (argmax(l) !== argmax(ref)) argmaxChanged[m]++;
    });
  }
}

// 3. Greedy transcripts.
const options = {
  language: 'en',
  temperature: 0,
  sampleLen: Number(values['sample-len']),
  compressionRatioThreshold: null,
  logprobThreshold: null,
  noSpeechThreshold: null,
} as const;
/** The greedy transcript's tokens, all windows joined. */
const tokensOf = async (model: WhisperModel, samples: Float32Array) => (await transcribe(samples, { ...options, model })).segments.flatMap((s) => s.tokens);
const fp32Tokens: number[][] = [];
for (const samples of audio) fp32Tokens.push(await tokensOf(fp32, samples));
const transcripts: number[][][] = [];
for (const model of models) {
  const own: number[][] = [];
  for (const samples of audio) own.push(await tokensOf(model, samples));
  transcripts.push(own);
}
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((t, i) => t === b[i]);
/** Tokens before the first difference, summed over the clips. */
const commonPrefix = (a: readonly number[][], b: readonly number[][]) =>
  a.reduce((n, x, c) => {
    let i = 0;
    while (i < x.length && i < b[c].length && x[i] === b[c][i]) i++;
    return n + i;
  }, 0);

const step0 = median(stepTimes[0]);
const positions = features.length * (steps + 1);
printTable(
  ['decoder', 'step', 'vs q8 today', 'max |Δ logit| vs fp32', 'argmax changed', '= fp32 transcript', 'tokens before 1st change vs fp32', '= q8 transcript'],
  CANDIDATES.map((c, m) => [
    c.name,
    `${median(stepTimes[m]).toFixed(2)} ms`,
    `${(step0 / median(stepTimes[m])).toFixed(2)}x`,
    maxDiff[m].toFixed(3),
    `${argmaxChanged[m]}/${positions}`,
    `${transcripts[m].filter((t, i) => same(t, fp32Tokens[i])).length}/${audio.length}`,
    `${commonPrefix(transcripts[m], fp32Tokens)}/${fp32Tokens.reduce((n, t) => n + t.length, 0)}`,
    `${transcripts[m].filter((t, i) => same(t, transcripts[0][i])).length}/${audio.length}`,
  ]),
);
const scale = Math.max(...reference.flatMap((r) => r.logits.map((l) => l.reduce((m, v) => Math.max(m, Math.abs(v)), 0))));
console.log(`largest |fp32 logit| ${scale.toFixed(2)}; ${positions} teacher-forced positions`);
console.log(`load at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await Promise.all([fp32, ...models].map((m) => m.close()));
