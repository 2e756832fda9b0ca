/** `moxing pull` as a real process (the one smoke test of the command; the rest runs in-process in cli.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeHub, whisperRepo } from './fake-hub.js';
import { runMoxing } from '../helpers/cli.js';

test('the real process: pull fetches the variant from HF_ENDPOINT into MOXING_CACHE and exits 0', async () => {
  const repo = whisperRepo('both', '_quantized');
  const hub = await startFakeHub({ 'onnx-community/whisper-tiny': repo });
  const cache = await mkdtemp(join(tmpdir(), 'moxing-pull-process-'));
  try {
    // Asynchronous on purpose: the fake hub lives in this process and must keep answering while the CLI runs.
    const run = await runMoxing(['pull', 'whisper-tiny', '--variant', 'q8', '--json'], { HF_ENDPOINT: hub.endpoint, MOXING_CACHE: cache, MOXING_OFFLINE: '', HF_HUB_OFFLINE: '' });
    assert.equal(run.code, 0, run.stderr);
    const { dir } = JSON.parse(run.stdout) as { dir: string };
    assert.deepEqual(await readFile(join(dir, 'onnx', 'encoder_model_quantized.onnx')), repo['onnx/encoder_model_quantized.onnx'].bytes);
  } finally {
    await hub.close();
    await rm(cache, { recursive: true, force: true });
  }
});
