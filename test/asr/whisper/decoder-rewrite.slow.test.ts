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
import { assertSameDecode, features, files } from './same-decode.js';

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

  test('a generated optimum-layout decoder and its q8: the same logits, bit for bit', async () => {
    const dir = await ensureWhisperModel(TINY_WHISPER);
    const q8 = join(work, 'decoder_model_merged_quantized.onnx');
    quantizeFile(join(dir, 'onnx', 'decoder_model_merged.onnx'), q8, { to: 'q8' });
    await assertSameDecode(files(dir, 'merged'));
    await assertSameDecode(files(dir, 'merged', q8));
  });
});
