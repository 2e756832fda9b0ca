import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { WhisperModel } from '../../../src/asr/index.js';
import { fuseEncoderAttention, loadWhisperEncoder } from '../../../src/asr/whisper/encoder-rewrite.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../src/audio/index.js';
import { quantizeFile } from '../../../src/quantize/index.js';
import { float32, loadSession } from '../../../src/runtime/index.js';
import { decodeModel } from '../../../src/runtime/onnx/index.js';
import { rewriteGraphNodes } from '../../../src/runtime/onnx/stream-rewrite.js';
import { ensureWhisperModel, TINY_WHISPER } from '../../models/whisper.js';
import { clipsOf, FIXTURE_DIR, loadFixture, SHARED } from './fidelity.js';

const RUNTIME = { intraOpThreads: 1 };
const work = mkdtempSync(join(tmpdir(), 'moxing-encoder-rewrite-'));
after(() => rmSync(work, { recursive: true, force: true }));

const opCounts = (path: string) => {
  const counts = new Map<string, number>();
  for (const n of decodeModel(readFileSync(path)).graph?.node ?? []) counts.set(n.opType ?? '', (counts.get(n.opType ?? '') ?? 0) + 1);
  return counts;
};

/** The first 30 s window of a dev clip as the encoder takes it: [1, 80, 3000]. */
async function realWindow(): Promise<Float32Array> {
  const audio = await decodeAudio(join(SHARED, 'audio', 'dev', clipsOf('single')[0]));
  return logMelSpectrogram(padOrTrim(audio), 80).data;
}

async function encode(session: InferenceSession, mel: Float32Array): Promise<Float32Array> {
  const out = await session.run({ input_features: float32(mel, [1, 80, 3000]) });
  return out[session.outputNames[0]].data as Float32Array;
}

const maxAbs = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
const rmsDiff = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((s, v, i) => s + (v - y[i]) ** 2, 0) / x.length);

/** Rewrites `path` into the work folder; the op counts before and after. */
function rewritten(path: string, name: string): { before: Map<string, number>; after: Map<string, number> } {
  const out = join(work, name);
  assert.ok(rewriteGraphNodes(path, out, fuseEncoderAttention), `no attention of ${name} matched`);
  return { before: opCounts(path), after: opCounts(out) };
}

test('the shared fixture (an older export: shapes from Shape-Gather-Concat): every self-attention fused, the output on real audio within 1e-5 of the graph as exported, the opt-out loading the file itself', async () => {
  const path = join(FIXTURE_DIR, 'onnx', 'encoder_model.onnx');
  const { before, after: afterwards } = rewritten(path, 'fixture-encoder.onnx');
  const layers = before.get('Softmax') ?? 0;
  assert.equal(layers, 4);
  assert.equal(afterwards.get('MultiHeadAttention'), layers);
  assert.equal(afterwards.get('Softmax') ?? 0, 0);
  assert.equal(afterwards.get('Shape'), (before.get('Shape') ?? 0) - 4 * layers, 'the shape computations of the four reshapes per layer go too');
  assert.equal(afterwards.get('Transpose'), 1, 'only the transpose after the convolutions stays');

  const fused = await loadFixture();
  const plain = await WhisperModel.fromFiles(fused.files, RUNTIME, { graphRewrites: false });
  assert.equal(plain.encoder.session, await loadSession(path, RUNTIME), 'the opt-out loads the file as it is');
  assert.notEqual(fused.encoder.session, plain.encoder.session);
  const mel = await realWindow();
  const [x, y] = [await encode(fused.encoder.session, mel), await encode(plain.encoder.session, mel)];
  const [diff, scale] = [maxDiff(x, y), maxAbs(y)];
  assert.ok(diff <= 1e-5 * scale, `the fused encoder moved the output by ${diff} on a scale of ${scale}`);
});

test('an optimum-layout encoder and its q8 (DynamicQuantizeLinear / MatMulInteger projections): fused, fp32 within 1e-5, q8 as close to fp32 as before', async () => {
  const dir = await ensureWhisperModel(TINY_WHISPER);
  const fp32 = join(dir, 'onnx', 'encoder_model.onnx');
  const q8 = join(work, 'encoder_model_quantized.onnx');
  quantizeFile(fp32, q8, { to: 'q8' });
  for (const [path, name] of [
    [fp32, 'tiny-fp32.onnx'],
    [q8, 'tiny-q8.onnx'],
  ] as const) {
    const { before, after: afterwards } = rewritten(path, name);
    assert.equal(afterwards.get('MultiHeadAttention'), TINY_WHISPER.encoderLayers);
    assert.equal(afterwards.get('Softmax') ?? 0, 0);
    assert.equal(afterwards.get('MatMulInteger') ?? 0, before.get('MatMulInteger') ?? 0, 'the quantized projections stay as they are');
  }
  assert.ok((opCounts(q8).get('MatMulInteger') ?? 0) > 0);

  const mel = await realWindow();
  const run = async (path: string, rewrite: boolean) => encode(await loadWhisperEncoder(path, rewrite, RUNTIME), mel);
  const [fp32Fused, fp32Plain, q8Fused, q8Plain] = [await run(fp32, true), await run(fp32, false), await run(q8, true), await run(q8, false)];
  assert.ok(maxDiff(fp32Fused, fp32Plain) <= 1e-5 * maxAbs(fp32Plain), `fp32 moved by ${maxDiff(fp32Fused, fp32Plain)}`);
  // q8 quantizes the attention output per call: a rounding-level change there can flip int8 steps, so the fused q8
  // is held to q8's own error against fp32, not to the unfused q8.
  const [fusedError, plainError] = [rmsDiff(q8Fused, fp32Plain), rmsDiff(q8Plain, fp32Plain)];
  assert.ok(fusedError <= 1.1 * plainError, `the fused q8 is ${fusedError} from fp32 where the unfused is ${plainError}`);
});

test('an attention whose probabilities are read elsewhere (a graph output) is left as it is; the others are fused', () => {
  const path = join(FIXTURE_DIR, 'onnx', 'encoder_model.onnx');
  const out = join(work, 'probabilities-out.onnx');
  let kept = '';
  assert.ok(
    rewriteGraphNodes(path, out, (g) => {
      kept = g.nodes.find((n) => n.opType === 'Softmax')?.output?.[0] ?? '';
      return fuseEncoderAttention({ ...g, outputs: [...g.outputs, kept] });
    }),
  );
  const counts = opCounts(out);
  assert.equal(counts.get('MultiHeadAttention'), 3);
  assert.equal(counts.get('Softmax'), 1);
  assert.ok(decodeModel(readFileSync(out)).graph?.node?.some((n) => n.output?.includes(kept)));
});

test('a missing or unreadable encoder fails as it does unfused: MODEL_INVALID with the reason', async () => {
  await assert.rejects(loadWhisperEncoder(join(work, 'absent.onnx'), true, RUNTIME), (e: Error & { code?: string }) => e.code === 'MODEL_INVALID' && /not found/.test(e.message));
  const garbage = join(work, 'garbage', 'encoder_model.onnx');
  mkdirSync(dirname(garbage));
  writeFileSync(garbage, Buffer.from('not an onnx file at all'));
  await assert.rejects(loadWhisperEncoder(garbage, true, RUNTIME), (e: Error & { code?: string }) => e.code === 'MODEL_INVALID');
  assert.deepEqual(readdirSync(dirname(garbage)), ['encoder_model.onnx'], 'no temporary copy is left beside the model');
});
