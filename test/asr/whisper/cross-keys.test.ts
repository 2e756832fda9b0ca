import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WhisperDecoder, WhisperModel, type AudioFeatures, type DecoderRunner } from '../../../src/asr/index.js';
import { int8CrossKeys, int8KeyInputs, loadCrossKeyQuantizer } from '../../../src/asr/whisper/cross-keys.js';
import { rewriteWhisperDecoder } from '../../../src/asr/whisper/decoder-rewrite.js';
import { concatFeatures } from '../../../src/asr/whisper/encoder.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../src/audio/index.js';
import { float32 } from '../../../src/runtime/index.js';
import { decodeModel, node } from '../../../src/runtime/onnx/index.js';
import { loadRewrittenModel } from '../../../src/runtime/onnx/rewritten-session.js';
import { rewriteGraphNodes } from '../../../src/runtime/onnx/stream-rewrite.js';
import { clipsOf, FIXTURE_DIR, SHARED } from './fidelity.js';
import { files } from './same-decode.js';

const RUNTIME = { intraOpThreads: 1 };

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Greedy steps of every row (each row its own tokens), `count` of them; the logits of each step. */
async function greedy(runner: DecoderRunner, prompts: number[][], count: number, dropAt?: { step: number; keep: number[] }): Promise<Float32Array[]> {
  const vocab = runner.vocabSize;
  let last = (await runner.prefill(prompts)).last;
  const logits = [last];
  for (let i = 0; i < count; i++) {
    let rows = Array.from({ length: runner.rows }, (_, r) => r);
    if (dropAt?.step === i) {
      runner.reorder(dropAt.keep);
      rows = dropAt.keep;
    }
    last = await runner.step(rows.map((r) => argmax(last.subarray(r * vocab, (r + 1) * vocab))));
    logits.push(last);
  }
  return logits;
}

describe('asr/whisper/cross-keys', () => {
  test('the key quantizer: a scale per position (max |k| / 127), uint8 around 128 within half a step of each key; an all-zero position stays 0', async () => {
    const [rows, heads, positions, headDim] = [2, 3, 5, 8];
    const keys = Float32Array.from({ length: rows * heads * positions * headDim }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 13)));
    keys.fill(0, 0, headDim); // position 0 of row 0, head 0
    const quantizer = await loadCrossKeyQuantizer(2, RUNTIME);
    const out = await quantizer.run({ 'key.0': float32(keys, [rows, heads, positions, headDim]), 'key.1': float32(keys.map((k) => -k), [rows, heads, positions, headDim]) });
    for (const layer of [0, 1]) {
      const q = out[`key_uint8.${layer}`];
      const scales = out[`key_scale.${layer}`].data as Float32Array;
      assert.equal(q.type, 'uint8');
      assert.deepEqual(q.dims, [rows, heads, positions, headDim]);
      assert.deepEqual(out[`key_scale.${layer}`].dims, [rows, heads, 1, positions]);
      const values = q.data as Uint8Array;
      for (let p = 0; p < rows * heads * positions; p++) {
        const position = keys.subarray(p * headDim, (p + 1) * headDim).map((k) => (layer === 0 ? k : -k));
        const max = Math.max(...position.map(Math.abs));
        assert.ok(Math.abs(scales[p] - max / 127) <= 1e-6 * max + 1e-30, `layer ${layer} position ${p}: scale ${scales[p]} vs ${max / 127}`);
        position.forEach((k, j) => {
          const v = values[p * headDim + j];
          assert.ok(v >= 1 && v <= 255);
          assert.ok(Math.abs((v - 128) * scales[p] - k) <= scales[p] / 2 + 1e-6 * max, `layer ${layer} position ${p}: ${(v - 128) * scales[p]} vs ${k}`);
        });
      }
      assert.deepEqual([...values.subarray(0, headDim)], Array(headDim).fill(128), 'the zero position');
      assert.ok(Number.isFinite(scales[0]));
    }
  });

  test('the rewritten step: each layer’s scores one MatMulInteger over its uint8 keys, no float32 key read; a key read otherwise leaves the graph as it is', () => {
    const path = join(FIXTURE_DIR, 'onnx', 'decoder_with_past_model.onnx');
    const work = mkdtempSync(join(tmpdir(), 'moxing-cross-keys-'));
    try {
      const out = join(work, 'int8-keys.onnx');
      assert.ok(rewriteGraphNodes(path, out, (g) => int8CrossKeys(g, g.nodes, true)));
      const graph = decodeModel(readFileSync(out)).graph!;
      const nodes = graph.node ?? [];
      const inputs = (graph.input ?? []).map((i) => i.name ?? '');
      const layers = inputs.filter((n) => /encoder\.key$/.test(n)).length;
      assert.equal(layers, 3);
      for (let layer = 0; layer < layers; layer++) {
        const { keys, scales } = int8KeyInputs(layer);
        assert.ok(inputs.includes(keys) && inputs.includes(scales), `layer ${layer}'s inputs`);
        assert.deepEqual(nodes.filter((n) => n.input?.includes(keys)).map((n) => n.opType), ['MatMulInteger']);
        assert.deepEqual(nodes.filter((n) => n.input?.includes(scales)).map((n) => n.opType), ['Mul']);
        assert.deepEqual(nodes.filter((n) => n.input?.includes(`past_key_values.${layer}.encoder.key`)), [], 'the float32 key is not read');
      }
      assert.equal(nodes.filter((n) => n.opType === 'MatMulInteger').length, layers);
      // A float decoder is left alone unless forced; so is a step whose key is also read by another node.
      assert.equal(rewriteGraphNodes(path, join(work, 'float.onnx'), (g) => int8CrossKeys(g, g.nodes)), false);
      const alsoRead = (g: Parameters<typeof int8CrossKeys>[0]) => int8CrossKeys(g, [...g.nodes, node('Shape', ['past_key_values.2.encoder.key'], ['extra'], 'extra')], true);
      assert.equal(rewriteGraphNodes(path, join(work, 'also-read.onnx'), alsoRead), false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('float decoders keep float32 keys (the fidelity tests need the export’s scores); the rewrite matches only a quantized step', async () => {
    const model = await WhisperModel.fromFiles(files(FIXTURE_DIR, 'merged'), RUNTIME);
    assert.equal(model.decoder.int8Keys, false);
    assert.equal(model.decoder.keyQuantizer, undefined);
    assert.ok(!model.decoder.first.inputNames.includes(int8KeyInputs(0).keys));
  });

  // A float32 decoder with the rewrite forced: rows are then independent bit for bit, so the runner's handling of the
  // int8 inputs (rows dropped, beams fanned out) can be checked exactly; a q8 decoder quantizes activations per tensor.
  async function forcedModel(layout: 'merged' | 'split'): Promise<{ model: WhisperModel; decoder: WhisperDecoder }> {
    const modelFiles = files(FIXTURE_DIR, layout);
    const model = await WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: 'exact' });
    const forced = (path: string) => loadRewrittenModel(path, 'test-int8-cross-keys', (graph) => int8CrossKeys(graph, rewriteWhisperDecoder(graph) ?? graph.nodes, true), RUNTIME);
    const quantizer = await loadCrossKeyQuantizer(model.dims.decoderLayers, RUNTIME);
    const d = modelFiles.decoder;
    const decoder = d.kind === 'merged' ? new WhisperDecoder(model.dims, await forced(d.path), undefined, quantizer) : new WhisperDecoder(model.dims, model.decoder.first, await forced(d.decoderWithPast), quantizer);
    return { model, decoder };
  }

  async function twoWindows(model: WhisperModel): Promise<AudioFeatures> {
    const clips = clipsOf('single');
    const window = async (clip: string) => model.encode(logMelSpectrogram(padOrTrim(await decodeAudio(join(SHARED, 'audio', 'dev', clip))), 80).data);
    return concatFeatures([await window(clips[0]), await window(clips[1])]);
  }

  test('forced on a float32 decoder, merged and split: a batch with a dropped row and a fan-out gives each row the logits it gets alone, bit for bit', async () => {
    for (const layout of ['merged', 'split'] as const) {
      const { model, decoder } = await forcedModel(layout);
      assert.ok(decoder.int8Keys && decoder.cacheOutside, layout);
      const both = await twoWindows(model);
      const prompt = [50258, 50259, 50359];
      // Rows: audio 0 and audio 1; at step 12 audio 0 leaves and audio 1 fans out to two rows.
      const batch = await greedy(decoder.runner(both, [0, 1]), [prompt, prompt], 30, { step: 12, keep: [1, 1] });
      const alone = [await greedy(decoder.runner(both, [0]), [prompt], 12), await greedy(decoder.runner(both, [1]), [prompt], 30)];
      const vocab = model.dims.vocabSize;
      batch.forEach((logits, i) => {
        const rows = i <= 12 ? [0, 1] : [1, 1];
        rows.forEach((audio, r) => assert.deepEqual(logits.subarray(r * vocab, (r + 1) * vocab), alone[audio][i], `${layout}: step ${i}, row ${r} (audio ${audio})`));
      });
    }
  });

  test('forced on a float32 decoder: the scores over int8 keys move the logits a little, and mostly not the greedy token', async () => {
    const { model, decoder } = await forcedModel('merged');
    const both = await twoWindows(model);
    const prompt = [50258, 50259, 50359];
    const vocab = model.dims.vocabSize;
    let diff = 0;
    let scale = 0;
    let same = 0;
    let steps = 0;
    for (const audio of [0, 1]) {
      const reference = await greedy(model.createRunner(both, [audio]), [prompt], 40);
      // Teacher-forced on the float32 keys' tokens.
      const runner = decoder.runner(both, [audio]);
      const logits = [(await runner.prefill([prompt])).last];
      for (let i = 0; i < 40; i++) logits.push(await runner.step([argmax(reference[i])]));
      logits.forEach((l, i) => {
        for (let v = 0; v < vocab; v++) {
          diff = Math.max(diff, Math.abs(l[v] - reference[i][v]));
          scale = Math.max(scale, Math.abs(reference[i][v]));
        }
        same += argmax(l) === argmax(reference[i]) ? 1 : 0;
        steps++;
      });
    }
    assert.ok(diff > 0, 'the rewrite changed nothing');
    assert.ok(diff < 0.01 * scale, `the logits moved by ${diff} (scale ${scale})`);
    assert.ok(same >= 0.9 * steps, `the greedy token is the same at ${same}/${steps} steps only`);
  });
});
