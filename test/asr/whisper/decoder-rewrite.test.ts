import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WhisperModel, type DecoderRunner } from '../../../src/asr/index.js';
import { CACHE_LENGTH, keepSelfCacheOutside } from '../../../src/asr/whisper/decoder-rewrite.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../src/audio/index.js';
import { quantizeFile } from '../../../src/quantize/index.js';
import { decodeModel } from '../../../src/runtime/onnx/index.js';
import { rewriteGraphNodes } from '../../../src/runtime/onnx/stream-rewrite.js';
import { ensureWhisperModel, TINY_WHISPER } from '../../models/whisper.js';
import { clipsOf, FIXTURE_DIR, SHARED } from './fidelity.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('asr/whisper/decoder-rewrite', () => {
  const RUNTIME = { intraOpThreads: 1 };
  const work = mkdtempSync(join(tmpdir(), 'moxing-decoder-rewrite-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  type Layout = 'merged' | 'split' | 'timestamped';
  function files(dir: string, layout: Layout, mergedPath = join(dir, 'onnx', 'decoder_model_merged.onnx')) {
    const onnx = join(dir, 'onnx');
    const decoder =
      layout === 'split'
        ? { kind: 'split' as const, decoder: join(onnx, 'decoder_model.onnx'), decoderWithPast: join(onnx, 'decoder_with_past_model.onnx') }
        : { kind: 'merged' as const, path: layout === 'timestamped' ? join(onnx, 'decoder_model_merged_timestamped.onnx') : mergedPath, timestamped: layout === 'timestamped' };
    return { dir, encoder: join(onnx, 'encoder_model.onnx'), decoder };
  }

  async function features(model: WhisperModel) {
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
   * grow), a beam-like fan-out of row 0 at step 10 and a dropped row at step 40. Every step's logits, in order.
   */
  async function trace(runner: DecoderRunner, count: number): Promise<Float32Array[]> {
    const vocab = runner.vocabSize;
    const prompt = [50258, 50259, 50359];
    const logits = [(await runner.prefill([prompt, prompt])).last];
    for (let i = 0; i < count; i++) {
      if (i === 10) runner.reorder([0, 0]);
      if (i === 40) runner.reorder([1]);
      const last = logits[logits.length - 1];
      // After a reorder the rows are the kept ones; their last logits are the kept rows' (row 0 twice, then row 1).
      const rows = i < 10 ? [0, 1] : i < 40 ? [0, 0] : i === 40 ? [1] : [0];
      const tokens = rows.map((r) => argmax(last.subarray(r * vocab, (r + 1) * vocab)));
      logits.push(await runner.step(tokens));
    }
    return logits;
  }

  /** The rewritten and the as-exported decoder give the same logits, bit for bit, at every step. */
  async function assertSameDecode(modelFiles: ReturnType<typeof files>): Promise<void> {
    const [rewritten, plain] = await Promise.all([WhisperModel.fromFiles(modelFiles, RUNTIME), WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: false })]);
    assert.ok(rewritten.decoder.cacheOutside, 'the rewrite matched');
    assert.ok(!plain.decoder.cacheOutside);
    assert.ok((rewritten.decoder.withPast ?? rewritten.decoder.first).inputNames.includes(CACHE_LENGTH));
    const encoded = await features(plain);
    const [a, b] = [await trace(rewritten.createRunner(encoded, [0, 0]), 150), await trace(plain.createRunner(encoded, [0, 0]), 150)];
    assert.equal(a.length, b.length);
    a.forEach((x, i) => assert.deepEqual(x, b[i], `the logits of step ${i} differ`));
  }

  test('the shared fixture, merged and split: the same logits, bit for bit, over 150 steps with fan-out, a dropped row and growing buffers', async () => {
    await assertSameDecode(files(FIXTURE_DIR, 'merged'));
    await assertSameDecode(files(FIXTURE_DIR, 'split'));
  });

  test('the timestamped merged decoder: the same step logits, and the same cross attentions in a timing pass', async () => {
    const modelFiles = files(FIXTURE_DIR, 'timestamped');
    await assertSameDecode(modelFiles);
    const [rewritten, plain] = await Promise.all([WhisperModel.fromFiles(modelFiles, RUNTIME), WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: false })]);
    const encoded = await features(plain);
    const tokens = [50258, 50259, 50359, 440, 2068, 50257];
    const [x, y] = [await rewritten.timingPass(encoded, tokens), await plain.timingPass(encoded, tokens)];
    assert.deepEqual(x.logits, y.logits);
    x.crossAttentions.forEach((t, i) => assert.deepEqual(t.data, y.crossAttentions[i].data));
  });

  test('a generated optimum-layout decoder and its q8: the same logits, bit for bit', async () => {
    const dir = await ensureWhisperModel(TINY_WHISPER);
    const q8 = join(work, 'decoder_model_merged_quantized.onnx');
    quantizeFile(join(dir, 'onnx', 'decoder_model_merged.onnx'), q8, { to: 'q8' });
    await assertSameDecode(files(dir, 'merged'));
    await assertSameDecode(files(dir, 'merged', q8));
  });

  test('a decode takes the cross-attention buffers the last one released: the same memory, and the logits of a fresh model', async () => {
    const modelFiles = files(FIXTURE_DIR, 'merged');
    const [model, fresh] = await Promise.all([WhisperModel.fromFiles(modelFiles, RUNTIME), WhisperModel.fromFiles(modelFiles, RUNTIME, { graphRewrites: false })]);
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
    const [reused, reference] = [await trace(model.createRunner(second, [0, 0]), 60), await trace(fresh.createRunner(second, [0, 0]), 60)];
    assert.equal(taken.length, 2);
    assert.equal(taken[1][0].buffer, taken[0][0].buffer, 'the second decode wrote into the first one\'s buffers');
    reused.forEach((x, i) => assert.deepEqual(x, reference[i], `the logits of step ${i} differ`));
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
      assert.equal(producer?.opType, 'Identity');
      assert.equal(producer?.input?.[0], concat?.input?.[1], `${present} is the new position`);
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
});
