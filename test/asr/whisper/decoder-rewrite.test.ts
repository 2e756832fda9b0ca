import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WhisperModel } from '../../../src/asr/index.js';
import { CACHE_LENGTH, keepSelfCacheOutside, rewriteWhisperDecoder } from '../../../src/asr/whisper/decoder-rewrite.js';
import { attendOverCapacity } from '../../../src/runtime/onnx/capacity-attention.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../src/audio/index.js';
import { decodeModel } from '../../../src/runtime/onnx/index.js';
import { rewriteGraphNodes } from '../../../src/runtime/onnx/stream-rewrite.js';
import { clipsOf, FIXTURE_DIR, SHARED } from './fidelity.js';
import { assertSameDecode, features, files, trace } from './same-decode.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('asr/whisper/decoder-rewrite', () => {
  const RUNTIME = { intraOpThreads: 1 };
  const work = mkdtempSync(join(tmpdir(), 'moxing-decoder-rewrite-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  test('the shared fixture, merged and split, over 80 steps with fan-out, a dropped row and growing buffers: the exact rewrites give the same logits bit for bit, all of them the same greedy tokens', async () => {
    await assertSameDecode(files(FIXTURE_DIR, 'merged'));
    await assertSameDecode(files(FIXTURE_DIR, 'split'));
  });

  test('a rewritten first pass computes the logits of the positions read only, and they are the as-exported ones, bit for bit', async () => {
    for (const layout of ['merged', 'split'] as const) {
      const modelFiles = files(FIXTURE_DIR, layout);
      const [rewritten, plain] = await Promise.all([WhisperModel.fromFiles(modelFiles, RUNTIME), WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: false })]);
      assert.ok(rewritten.decoder.logitsFrom && !plain.decoder.logitsFrom, layout);
      const encoded = await features(plain);
      // A previous-text prompt as the sequential loop gives: <|startofprev|>, 36 tokens, then the SOT sequence.
      const prompt = [50361, ...Array.from({ length: 36 }, (_, i) => 400 + 17 * i), 50258, 50259, 50359];
      const sot = prompt.indexOf(50258);
      const [x, y] = [await rewritten.createRunner(encoded, [0]).prefill([prompt], sot), await plain.createRunner(encoded, [0]).prefill([prompt], sot)];
      assert.deepEqual(x.last, y.last, `${layout}: last position`);
      assert.deepEqual(x.kept, y.kept, `${layout}: SOT position`);
      const out = await rewritten.decoder.first.run(rewritten.decoder.firstPassFeeds([prompt], encoded.tensor, sot));
      assert.deepEqual(out.logits.dims, [1, prompt.length - sot, rewritten.dims.vocabSize], `${layout}: logits from the SOT position on`);
    }
  });

  test('a decode takes the cross-attention buffers the last one released: the same memory, and the logits of a fresh model', async () => {
    const modelFiles = files(FIXTURE_DIR, 'merged');
    const [model, fresh] = await Promise.all([WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: 'exact' }), WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: false })]);
    const taken: Float32Array[][] = [];
    const take = model.decoder.takeCrossBuffers.bind(model.decoder);
    model.decoder.takeCrossBuffers = (count, size) => {
      const buffers = take(count, size);
      taken.push(buffers);
      return buffers;
    };
    const clips = clipsOf('single');
    const window = async (clip: string) => model.encode(logMelSpectrogram(padOrTrim(await decodeAudio(join(SHARED, 'audio', 'dev', clip))), 80).data);
    const [first, second] = [await window(clips[0]), await window(clips[1])];
    const earlier = model.createRunner(first, [0, 0]);
    await trace(earlier, 20);
    earlier.release?.();
    await assert.rejects(earlier.step([1, 1]), /after release/);
    const again = model.createRunner(second, [0, 0]);
    const [reused, reference] = [await trace(again, 60), await trace(fresh.createRunner(second, [0, 0]), 60)];
    assert.equal(taken.length, 2);
    assert.equal(taken[1][0].buffer, taken[0][0].buffer, 'the second decode wrote into the first one\'s buffers');
    reused.forEach((x, i) => assert.deepEqual(x, reference[i], `the logits of step ${i} differ`));
    // Unloading lets them go (WhisperModel.close): the next decode gets new ones.
    again.release?.();
    model.decoder.dropSpareBuffers();
    await model.createRunner(second, [0]).prefill([[50258]]);
    assert.notEqual(taken[2][0].buffer, taken[1][0].buffer);
  });

  test('the rewritten graph: one Slice per past, present the new position, the first pass untouched; no match leaves the file as it is', () => {
    const path = join(FIXTURE_DIR, 'onnx', 'decoder_with_past_model.onnx');
    const out = join(work, 'with-past.onnx');
    assert.ok(rewriteGraphNodes(path, out, keepSelfCacheOutside));
    const graph = decodeModel(readFileSync(out)).graph!;
    const pasts = (graph.input ?? []).map((i) => i.name ?? '').filter((n) => /decoder\.(key|value)$/.test(n));
    assert.equal(pasts.length, 3 * 2, 'three layers, key and value');
    assert.equal(graph.input?.at(-1)?.name, CACHE_LENGTH, 'the new input comes after the model own');
    const nodes = graph.node ?? [];
    assert.deepEqual(nodes.filter((n) => n.opType === 'Slice' && n.input?.[2] === CACHE_LENGTH).map((n) => n.input?.[0]).sort(), [...pasts].sort());
    for (const past of pasts) {
      const present = past.replace('past_key_values.', 'present.');
      const producer = nodes.find((n) => n.output?.includes(present));
      const concat = nodes.find((n) => n.opType === 'Concat' && n.input?.[0] === `${past}/live`);
      // The node that makes the new position outputs the present itself (no Identity copy), and the Concat reads it.
      assert.ok(producer && producer.opType !== 'Identity', `${present} is made by ${producer?.opType}`);
      assert.equal(concat?.input?.[1], present, `${present} is the new position`);
      assert.ok(!nodes.some((n) => n.input?.includes(past) && n.opType !== 'Slice'), `only the Slice reads ${past}`);
    }
    // decoder_model (the split first pass) has no past: nothing to do.
    assert.equal(rewriteGraphNodes(join(FIXTURE_DIR, 'onnx', 'decoder_model.onnx'), join(work, 'first.onnx'), keepSelfCacheOutside), false);
    // A present computed some other way (here: its Concat's output renamed): the graph does not match, and loads as exported.
    assert.equal(
      rewriteGraphNodes(path, join(work, 'other.onnx'), (g) => {
        const nodes = g.nodes.map((n) => (n.opType === 'Concat' && n.input?.[0] === 'past_key_values.0.decoder.key' ? { ...n, output: ['elsewhere'] } : n));
        return keepSelfCacheOutside({ ...g, nodes });
      }),
      false,
    );
  });

  test('the attention over the cache buffers: each past read in place by its attention (and the Shape of the first), no Slice or Concat of the cache left; an attention of another form keeps the cache-outside graph', () => {
    const path = join(FIXTURE_DIR, 'onnx', 'decoder_with_past_model.onnx');
    const out = join(work, 'capacity.onnx');
    assert.ok(rewriteGraphNodes(path, out, (g) => rewriteWhisperDecoder(g)));
    const graph = decodeModel(readFileSync(out)).graph!;
    const nodes = graph.node ?? [];
    const pasts = (graph.input ?? []).map((i) => i.name ?? '').filter((n) => /decoder\.(key|value)$/.test(n));
    assert.equal(pasts.length, 6);
    assert.ok(!nodes.some((n) => n.opType === 'Slice' && n.input?.[0] && pasts.includes(n.input[0])), 'no Slice copies the live cache');
    assert.ok(!nodes.some((n) => n.opType === 'Concat' && (n.input ?? []).some((i) => i.endsWith('/live'))), 'no Concat copies it');
    for (const past of pasts) {
      const readers = nodes.filter((n) => n.input?.includes(past));
      assert.ok(readers.some((n) => n.opType === (past.endsWith('key') ? 'Transpose' : 'MatMul')), `${past} is read by its attention`);
      assert.ok(readers.every((n) => ['Transpose', 'MatMul', 'Shape'].includes(n.opType ?? '')), `${past}: ${readers.map((n) => n.opType).join(', ')}`);
    }
    // A scale after Q·Kᵀ (an attention of another form): the cache stays outside, the attention as it was.
    const scaled = (g: Parameters<typeof keepSelfCacheOutside>[0]) => {
      const outside = keepSelfCacheOutside(g);
      assert.ok(outside);
      const softmax = outside.find((n) => n.opType === 'Softmax');
      const nodesWithScale = outside.flatMap((n) => (n === softmax ? [{ ...n, opType: 'Mul', input: [n.input![0], n.input![0]], output: [`${n.output![0]}/scaled`] }, { ...n, input: [`${n.output![0]}/scaled`] }] : [n]));
      assert.equal(attendOverCapacity(g, nodesWithScale), undefined);
      return nodesWithScale;
    };
    assert.ok(rewriteGraphNodes(path, join(work, 'scaled.onnx'), scaled));
  });
});
