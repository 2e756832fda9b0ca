/**
 * SileroVad.load takes a model reference and ModelLoadOptions like every loader: the bundled file by default,
 * a folder in the hub layout or flat, an .onnx file, a hub id through the cache; the same weights give the
 * same probabilities whichever way they were named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SileroVad, sileroModelPath } from '../../src/audio/vad/index.js';
import { isMoxingError } from '../../src/errors.js';
import { concat, silence, tones, whiteNoise } from './signals.js';

const work = mkdtempSync(join(tmpdir(), 'moxing-vad-load-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const audio = concat(silence(0.3), tones(0.6, 0.6), whiteNoise(0.4, 0.2, 3));

function folderWith(file: string): string {
  const dir = mkdtempSync(join(work, 'model-'));
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  copyFileSync(sileroModelPath(), join(dir, file));
  return dir;
}

test('a folder (hub layout or flat) and an .onnx file load the same weights as the bundled default', async () => {
  const expected = await (await SileroVad.load()).probabilities(audio);
  const named = [
    [folderWith('onnx/model.onnx'), 'sequence'],
    [folderWith('model.onnx'), 'sequence'],
    [sileroModelPath(), 'frame'],
  ] as const;
  for (const [ref, graph] of named) {
    const vad = await SileroVad.load(ref, { graph, runtime: { intraOpThreads: 1 } });
    const got = await vad.probabilities(audio);
    assert.equal(got.length, expected.length);
    const diff = Math.max(...got.map((p, i) => Math.abs(p - expected[i])));
    assert.ok(diff <= 1e-5, `${ref} (${graph}): max difference ${diff}`);
  }
});

test('a variant picks its file in a folder; the bundled model has fp32 only', async () => {
  const dir = folderWith('onnx/model_quantized.onnx');
  await SileroVad.load(dir, { variant: 'q8' });
  await assert.rejects(SileroVad.load(dir), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && e.message.includes('onnx/model.onnx'));
  await assert.rejects(SileroVad.load(undefined, { variant: 'q8' }), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && e.message.includes('fp32 only'));
});

test('a hub id resolves through the hub cache: offline and not cached is MODEL_OFFLINE naming the pull command', async () => {
  const hub = { cacheDir: join(work, 'hub'), offline: true };
  await assert.rejects(
    SileroVad.load('acme/silero-vad', { hub }),
    (e: unknown) => isMoxingError(e, 'MODEL_OFFLINE') && e.message.includes('onnx/model.onnx') && e.message.includes('moxing pull acme/silero-vad'),
  );
  await assert.rejects(SileroVad.load('no-such-alias'), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN'));
});
