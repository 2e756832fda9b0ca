/**
 * The decoder-rewrite tests' shared steps (decoder-rewrite.test.ts, decoder-rewrite.slow.test.ts): a model's files
 * in each decoder layout, a decode that exercises the self-attention cache, and the check that the rewritten and
 * the as-exported decoder give the same logits.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WhisperModel, type DecoderRunner } from '../../../src/asr/index.js';
import { CACHE_LENGTH } from '../../../src/asr/whisper/decoder-rewrite.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../src/audio/index.js';
import { clipsOf, SHARED } from './fidelity.js';

const RUNTIME = { intraOpThreads: 1 };

export type Layout = 'merged' | 'split' | 'timestamped';
export function files(dir: string, layout: Layout, mergedPath = join(dir, 'onnx', 'decoder_model_merged.onnx')) {
  const onnx = join(dir, 'onnx');
  const decoder =
    layout === 'split'
      ? { kind: 'split' as const, decoder: join(onnx, 'decoder_model.onnx'), decoderWithPast: join(onnx, 'decoder_with_past_model.onnx') }
      : { kind: 'merged' as const, path: layout === 'timestamped' ? join(onnx, 'decoder_model_merged_timestamped.onnx') : mergedPath, timestamped: layout === 'timestamped' };
  return { dir, encoder: join(onnx, 'encoder_model.onnx'), decoder };
}

export async function features(model: WhisperModel) {
  const audio = await decodeAudio(join(SHARED, 'audio', 'dev', clipsOf('single')[0]));
  return model.encode(logMelSpectrogram(padOrTrim(audio), 80).data);
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * A decode that exercises the cache: two rows, `count` greedy steps (past the first capacity, so the buffers
 * grow), a beam-like fan-out of row 0 at step 10 and a dropped row at step 40. Every step's logits, in order; the
 * tokens fed are pushed onto `fed`, or taken from `forced` (another trace's `fed`: teacher forcing).
 */
export async function trace(runner: DecoderRunner, count: number, fed: number[][] = [], forced?: readonly (readonly number[])[]): Promise<Float32Array[]> {
  const vocab = runner.vocabSize;
  const prompt = [50258, 50259, 50359];
  const logits = [(await runner.prefill([prompt, prompt])).last];
  for (let i = 0; i < count; i++) {
    if (i === 10) runner.reorder([0, 0]);
    if (i === 40) runner.reorder([1]);
    const last = logits[logits.length - 1];
    // After a reorder the rows are the kept ones; their last logits are the kept rows' (row 0 twice, then row 1).
    const rows = i < 10 ? [0, 1] : i < 40 ? [0, 0] : i === 40 ? [1] : [0];
    const tokens = forced ? [...forced[i]] : rows.map((r) => argmax(last.subarray(r * vocab, (r + 1) * vocab)));
    fed.push(tokens);
    logits.push(await runner.step(tokens));
  }
  return logits;
}

/**
 * The decoder with the exact rewrites and as exported give the same logits, bit for bit, at every step; with all
 * of them (the attention over the cache buffers too), the same greedy tokens and logits within float rounding. A
 * quantized decoder's step with all of them also reads int8 cross-attention keys (cross-keys.ts), which change its
 * values by more than rounding: decoder-rewrite.slow.test.ts holds it to the quantized decoder's agreement with fp32.
 */
export async function assertSameDecode(modelFiles: ReturnType<typeof files>): Promise<void> {
  const [exact, rewritten, plain] = await Promise.all([
    WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: 'exact' }),
    WhisperModel.fromFiles(modelFiles, RUNTIME),
    WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: false }),
  ]);
  assert.ok(exact.decoder.cacheOutside && rewritten.decoder.cacheOutside, 'the rewrite matched');
  assert.ok(!plain.decoder.cacheOutside);
  assert.ok((exact.decoder.withPast ?? exact.decoder.first).inputNames.includes(CACHE_LENGTH));
  const encoded = await features(plain);
  // 80 steps: past the buffers' first capacities, so they grow (twice by doubling, twice by 32 positions).
  const [a, b] = [await trace(exact.createRunner(encoded, [0, 0]), 80), await trace(plain.createRunner(encoded, [0, 0]), 80)];
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.deepEqual(x, b[i], `the logits of step ${i} differ`));
  if (rewritten.decoder.int8Keys) return;
  const c = await trace(rewritten.createRunner(encoded, [0, 0]), 80);
  assert.equal(c.length, b.length);
  const vocab = plain.dims.vocabSize;
  c.forEach((x, i) => {
    assert.equal(x.length, b[i].length);
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < x.length; j++) {
      diff = Math.max(diff, Math.abs(x[j] - b[i][j]));
      scale = Math.max(scale, Math.abs(b[i][j]));
    }
    assert.ok(diff <= 1e-5 * Math.max(1, scale), `step ${i}: the logits moved by ${diff} (scale ${scale})`);
    for (let r = 0; r < x.length / vocab; r++) assert.equal(argmax(x.subarray(r * vocab, (r + 1) * vocab)), argmax(b[i].subarray(r * vocab, (r + 1) * vocab)), `step ${i}, row ${r}: another greedy token`);
  });
}

/** How close a trace's logits are to another's of the same tokens: the largest difference, and rows with the same greedy token. */
export function agreement(got: readonly Float32Array[], expected: readonly Float32Array[], vocab: number): { maxDiff: number; sameTokens: number; rows: number } {
  let maxDiff = 0;
  let sameTokens = 0;
  let rows = 0;
  got.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) maxDiff = Math.max(maxDiff, Math.abs(x[j] - expected[i][j]));
    for (let r = 0; r < x.length / vocab; r++, rows++) sameTokens += argmax(x.subarray(r * vocab, (r + 1) * vocab)) === argmax(expected[i].subarray(r * vocab, (r + 1) * vocab)) ? 1 : 0;
  });
  return { maxDiff, sameTokens, rows };
}
