/**
 * `npx tsx bench/quantize.ts`: what `moxing quantize` costs and buys. For each method (dynamic int8 with and
 * without the encoder's attention scores Q·Kᵀ, MatMulNBits int8 at accuracy levels 4 and 0, MatMulNBits int4) on
 * the base-sized random Whisper: file size, encoder time
 * per 30 s window, decoder time per cached token, speed ratio to fp32, and max abs logit error against fp32 (also
 * on the tiny shared fixture and the tiny generated model). Then transcript agreement of q8 with fp32 on
 * ../shared/audio/dev/ with the fixture model. Times are the minimum of repeats (noise only adds time).
 * Options: --repeats 3 --steps 24 --clips all|N (single/translate dev clips for the agreement, 0 to skip).
 */
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { transcribe } from '../src/asr/whisper/index.js';
import { quantizeModelDir, type QuantizeOptions } from '../src/quantize/index.js';
import { bool, emptyFloat32, float32, int64, loadSession, releaseSessions, type Tensor } from '../src/runtime/index.js';
import { BASE_WHISPER, BENCH_MODELS_DIR, ensureWhisperModel, TINY_WHISPER } from '../test/models/index.js';
import { argmax, jfkFeatures, maxAbs, maxAbsDiff, PROMPT, whisperOutputs } from '../test/quantize/whisper-logits.js';
import { minTime, printTable, workDir } from './lib.js';

const { values } = parseArgs({
  options: { repeats: { type: 'string', default: '3' }, steps: { type: 'string', default: '24' }, clips: { type: 'string', default: 'all' } },
});
const repeats = Number(values.repeats);
const steps = Number(values.steps);
const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));
const FIXTURE = join(SHARED, 'models/whisper-tiny-random');

interface Variant {
  readonly name: string;
  readonly suffix: string;
  readonly options?: Partial<QuantizeOptions>;
}
const VARIANTS: readonly Variant[] = [
  { name: 'fp32', suffix: '' },
  { name: 'q8 dynamic, weights only (default)', suffix: '_quantized', options: { to: 'q8', method: 'dynamic' } },
  { name: 'q8 dynamic + Q·Kᵀ', suffix: '_quantized', options: { to: 'q8', method: 'dynamic', activationMatMuls: true } },
  { name: 'q8 MatMulNBits acc 4', suffix: '_quantized', options: { to: 'q8', method: 'matmulnbits', accuracyLevel: 4 } },
  { name: 'q8 MatMulNBits acc 0', suffix: '_quantized', options: { to: 'q8', method: 'matmulnbits', accuracyLevel: 0 } },
  { name: 'q4 MatMulNBits acc 4', suffix: '_q4', options: { to: 'q4', method: 'matmulnbits', accuracyLevel: 4 } },
];

/** A folder of hard links to `src`'s files, with `variant` quantized into it. */
function variantDir(src: string, tag: string, variant: Variant): string {
  const dir = workDir('quantize', tag, variant.name.replace(/[^a-z0-9]+/gi, '-'));
  for (const entry of readdirSync(src, { recursive: true }) as string[]) {
    const from = join(src, entry);
    const to = join(dir, entry);
    if (statSync(from).isDirectory()) mkdirSync(to, { recursive: true });
    else if (!existsSync(to)) linkSync(from, to);
  }
  if (variant.options) quantizeModelDir(dir, { ...variant.options, force: true });
  return dir;
}

/** Encoder ms per 30 s window, and decoder ms per cached token after a 4-token prompt. */
async function speed(dir: string, suffix: string): Promise<{ encoderMs: number; stepMs: number }> {
  const encoder = await loadSession(join(dir, 'onnx', `encoder_model${suffix}.onnx`));
  const decoder = await loadSession(join(dir, 'onnx', `decoder_model_merged${suffix}.onnx`));
  const features = float32(jfkFeatures(), [1, 80, 3000]);
  let hidden!: Tensor;
  await encoder.run({ input_features: features }); // warm-up
  const encoderMs = await minTime(repeats, async () => {
    hidden = (await encoder.run({ input_features: features })).last_hidden_state;
  });
  const past = decoder.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const meta = (decoder.inputMetadata ?? []).find((m) => m.name === past[0]);
  const shape = meta?.isTensor ? meta.shape : [];
  const decode = async (): Promise<void> => {
    let out = await decoder.run({
      input_ids: int64(PROMPT, [1, PROMPT.length]),
      encoder_hidden_states: hidden,
      use_cache_branch: bool([false], [1]),
      ...Object.fromEntries(past.map((n) => [n, emptyFloat32([1, Number(shape[1]), 0, Number(shape[3])])])),
    });
    // The cross-attention cache comes from the prompt pass and stays; the self-attention cache grows.
    const cross = Object.fromEntries(past.filter((n) => n.includes('.encoder.')).map((n) => [n, out[n.replace('past_key_values.', 'present.')]]));
    for (let i = 0; i < steps; i++) {
      const feeds: Record<string, Tensor> = {
        input_ids: int64([argmax(lastRow(out.logits))], [1, 1]),
        encoder_hidden_states: hidden,
        use_cache_branch: bool([true], [1]),
        ...cross,
      };
      for (const n of past) if (n.includes('.decoder.')) feeds[n] = out[n.replace('past_key_values.', 'present.')];
      out = await decoder.run(feeds);
    }
  };
  await decode(); // warm-up
  const totalMs = await minTime(repeats, decode);
  return { encoderMs, stepMs: totalMs / (steps + 1) };
}

function lastRow(t: Tensor): Float32Array {
  const vocab = t.dims[t.dims.length - 1];
  return (t.data as Float32Array).subarray(t.data.length - vocab);
}

function sizeOf(dir: string, suffix: string): number {
  return ['encoder_model', 'decoder_model_merged'].reduce((n, f) => n + statSync(join(dir, 'onnx', `${f}${suffix}.onnx`)).size, 0);
}

async function logitError(src: string, tag: string, variant: Variant): Promise<string> {
  const ref = await whisperOutputs(variantDir(src, tag, VARIANTS[0]), '');
  const q = await whisperOutputs(variantDir(src, tag, variant), variant.suffix);
  await releaseSessions();
  const err = Math.max(maxAbsDiff(ref.prefill, q.prefill), maxAbsDiff(ref.step, q.step));
  const range = Math.max(maxAbs(ref.prefill), maxAbs(ref.step));
  const same = argmax(ref.prefill) === argmax(q.prefill) && argmax(ref.step) === argmax(q.step);
  return `${err.toFixed(3)} / ${range.toFixed(1)}${same ? '' : ' (argmax differs)'}`;
}

const base = await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR });
const tiny = await ensureWhisperModel(TINY_WHISPER);
console.log(`base-sized random Whisper: ${base}\nmin of ${repeats} repeats, ${steps} cached decoder steps\n`);

const rows: string[][] = [];
let fp32: { encoderMs: number; stepMs: number } | undefined;
for (const variant of VARIANTS) {
  const started = performance.now();
  const dir = variantDir(base, 'base', variant);
  const quantizeS = (performance.now() - started) / 1000;
  const s = await speed(dir, variant.suffix);
  await releaseSessions();
  fp32 ??= s;
  rows.push([
    variant.name,
    `${(sizeOf(dir, variant.suffix) / 2 ** 20).toFixed(0)} MB`,
    variant.options ? `${quantizeS.toFixed(1)} s` : '-',
    `${s.encoderMs.toFixed(0)} ms`,
    `${(fp32.encoderMs / s.encoderMs).toFixed(2)}x`,
    `${s.stepMs.toFixed(2)} ms`,
    `${(fp32.stepMs / s.stepMs).toFixed(2)}x`,
    variant.options ? await logitError(base, 'base', variant) : '-',
    variant.options ? await logitError(FIXTURE, 'fixture', variant) : '-',
    variant.options ? await logitError(tiny, 'tiny', variant) : '-',
  ]);
}
printTable(
  ['variant', 'size', 'quantize', 'encoder', 'enc speed', 'decoder/token', 'dec speed', 'logit err base', 'err fixture', 'err tiny'],
  rows,
);
console.log('\nlogit error: max |q - fp32| / max |fp32| over the prompt and one cached step (both If branches), jfk mel.');

// Transcript agreement of the default q8 with fp32 on the shared dev clips, fixture model.
const clipsArg = values.clips;
if (clipsArg !== '0') {
  const manifest = JSON.parse(readFileSync(join(SHARED, 'audio/dev/manifest.json'), 'utf8')) as {
    clips: { path: string; kind: string; language: string; task: 'transcribe' | 'translate' }[];
  };
  // One-window clips; long-form ones repeat the same per-window comparison at many times the cost.
  const single = manifest.clips.filter((c) => c.kind === 'single' || c.kind === 'translate');
  const clips = clipsArg === 'all' ? single : single.slice(0, Number(clipsArg));
  const q8Dirs = VARIANTS.slice(1, 3).map((v) => ({ name: v.name, dir: variantDir(FIXTURE, 'fixture', v), same: 0, edits: 0 }));
  let words = 0;
  const started = performance.now();
  for (const clip of clips) {
    const audio = join(SHARED, 'audio/dev', clip.path);
    // Greedy without fallback: sampling at T > 0 would differ between any two runs, quantized or not.
    const options = { language: clip.language, task: clip.task, temperature: 0 } as const;
    const a = (await transcribe(audio, { ...options, model: q8Dirs[0].dir, variant: 'fp32' })).text.trim();
    const wa = a.split(/\s+/).filter(Boolean);
    words += wa.length;
    for (const q of q8Dirs) {
      const b = (await transcribe(audio, { ...options, model: q.dir, variant: 'q8' })).text.trim();
      if (a === b) q.same++;
      q.edits += editDistance(wa, b.split(/\s+/).filter(Boolean));
    }
  }
  console.log(`\ntranscript agreement with fp32, fixture model, ${clips.length} dev clips (${((performance.now() - started) / 1000).toFixed(0)} s):`);
  for (const q of q8Dirs) {
    console.log(
      `  ${q.name}: ${q.same}/${clips.length} identical texts (${((100 * q.same) / clips.length).toFixed(1)}%), ` +
        `word edit rate ${((100 * q.edits) / Math.max(1, words)).toFixed(2)}%`,
    );
  }
}
await releaseSessions();
// About 1 GB of quantized copies; every run rebuilds them (--force), so none are kept.
rmSync(workDir('quantize'), { recursive: true, force: true });

function editDistance(a: readonly string[], b: readonly string[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
