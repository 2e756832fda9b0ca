/**
 * The sherpa-onnx export's error path, without sherpa-onnx: a model whose weights do not match what the graphs need
 * fails naming the weight, and leaves nothing behind (the full check against sherpa-onnx-node is
 * sherpa-whisper.slow.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSherpaWhisper } from '../../bench/sherpa-whisper.js';

const FIXTURE = fileURLToPath(new URL('../../../shared/models/whisper-tiny-random/', import.meta.url));

test('an encoder file without the encoder weights fails naming the first missing one; no output or temporary folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-sherpa-bad-'));
  try {
    const model = join(dir, 'model');
    cpSync(FIXTURE, model, { recursive: true, filter: (src) => !src.includes('oracle') && !src.includes('timestamped') && !/decoder_(model|with_past)\.onnx$/.test(src) });
    // The decoder in the encoder's place: every decoder weight is there, no encoder weight is.
    cpSync(join(model, 'onnx', 'decoder_model_merged.onnx'), join(model, 'onnx', 'encoder_model.onnx'));
    await assert.rejects(writeSherpaWhisper(model, join(dir, 'out')), /sherpa-onnx export: the model has no weight model\.encoder\.conv1\.weight/);
    assert.equal(existsSync(join(dir, 'out')), false);
    assert.deepEqual(readdirSync(dir), ['model']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
