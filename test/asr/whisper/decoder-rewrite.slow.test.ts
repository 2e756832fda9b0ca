/** The decoder rewrite on the timestamped decoder and on a generated decoder with its q8 (the cheap cases are in decoder-rewrite.test.ts). */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WhisperModel } from '../../../src/asr/index.js';
import { quantizeFile } from '../../../src/quantize/index.js';
import { ensureWhisperModel, TINY_WHISPER } from '../../models/whisper.js';
import { FIXTURE_DIR } from './fidelity.js';
import { agreement, assertSameDecode, features, files, trace } from './same-decode.js';

describe('asr/whisper/decoder-rewrite, slow', () => {
  const RUNTIME = { intraOpThreads: 1 };
  const work = mkdtempSync(join(tmpdir(), 'moxing-decoder-rewrite-slow-'));
  after(() => rmSync(work, { recursive: true, force: true }));

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

  test('a generated optimum-layout decoder and its q8: the same logits, bit for bit; the q8 step over int8 cross-attention keys agrees with fp32 as well as q8 does', async () => {
    const dir = await ensureWhisperModel(TINY_WHISPER);
    const q8 = join(work, 'decoder_model_merged_quantized.onnx');
    quantizeFile(join(dir, 'onnx', 'decoder_model_merged.onnx'), q8, { to: 'q8' });
    await assertSameDecode(files(dir, 'merged'));
    await assertSameDecode(files(dir, 'merged', q8));
    const [fp32, all, exact] = await Promise.all([
      WhisperModel.fromFiles(files(dir, 'merged'), RUNTIME, { graphRewrites: false }),
      WhisperModel.fromFiles(files(dir, 'merged', q8), RUNTIME),
      WhisperModel.fromFiles(files(dir, 'merged', q8), RUNTIME, { graphRewrites: 'exact' }),
    ]);
    assert.ok(all.decoder.int8Keys && all.decoder.keyQuantizer, 'the q8 step reads int8 keys');
    assert.ok(!exact.decoder.int8Keys, 'not under the exact rewrites');
    // Teacher-forced on fp32's greedy tokens, the q8 step over int8 keys agrees with fp32 as well as q8 does (measured:
    // max |Δ logit| 3.35 against 3.84 on logits up to 20.6, the greedy token the same in 112 against 109 rows of 122).
    const encoded = await features(fp32);
    const fed: number[][] = [];
    const reference = await trace(fp32.createRunner(encoded, [0, 0]), 80, fed);
    const vocab = fp32.dims.vocabSize;
    const q8Agreement = agreement(await trace(exact.createRunner(encoded, [0, 0]), 80, [], fed), reference, vocab);
    const int8 = await trace(all.createRunner(encoded, [0, 0]), 80, [], fed);
    const int8Agreement = agreement(int8, reference, vocab);
    assert.ok(int8Agreement.maxDiff <= 1.25 * q8Agreement.maxDiff, `max |Δ logit| against fp32: ${int8Agreement.maxDiff} over int8 keys, ${q8Agreement.maxDiff} without`);
    assert.ok(int8Agreement.sameTokens >= q8Agreement.sameTokens - 0.05 * q8Agreement.rows, `the same greedy token as fp32 in ${int8Agreement.sameTokens} rows over int8 keys, ${q8Agreement.sameTokens} without, of ${q8Agreement.rows}`);
    assert.ok(agreement(int8, await trace(exact.createRunner(encoded, [0, 0]), 80, [], fed), vocab).maxDiff > 0, 'the int8 keys changed nothing');
  });
});
