import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMoxing, type CliRun } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'moxing-calc-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Offline with an empty cache: nothing here may touch the network.
const ENV = { MOXING_OFFLINE: '1', MOXING_CACHE: join(dir, 'cache') };

/** In-process (milliseconds, not a process start each); one run at a time, as the capture is process-wide. */
function moxing(...args: string[]): Promise<CliRun> {
  return runMoxingInProcess(['calc', ...args], ENV);
}

async function inTurn(runs: (() => Promise<CliRun>)[]): Promise<CliRun[]> {
  const results: CliRun[] = [];
  for (const run of runs) results.push(await run());
  return results;
}

function oneLineError(run: CliRun, pattern: RegExp): void {
  assert.notEqual(run.code, 0, 'exits non-zero');
  assert.equal(run.stdout, '');
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, pattern);
}

test('params, train, infer and fit print tables and JSON; a config.json path works like a preset', async () => {
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ model_type: 'gpt2', n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, vocab_size: 50257 }));
  const [text, json, train, infer, fit, config] = await inTurn([
    () => moxing('params', '--model', 'llama-7b'),
    () => moxing('params', '--model', 'llama-7b', '--json'),
    () => moxing('train', '--model', 'llama-7b', '--tokens', '1T', '--gpus', '2048', '--json'),
    () => moxing('infer', '--model', 'llama2-70b', '--gpu', 'h100-sxm', '--gpus', '2', '--batch', '8', '--context', '4096', '--kv-dtype', 'fp8', '--json'),
    () => moxing('fit', '--model', 'mistral-7b', '--gpu', 'rtx-4090', '--dtype', 'q4_k_m'),
    () => moxing('params', '--model', path, '--json'),
  ]);
  for (const run of [text, json, train, infer, fit, config]) assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(config.stdout).parameters, 124_439_808);

  assert.match(text.stdout, /parameters\s+6,738,415,616 \(6\.74B\)/);
  assert.match(text.stdout, /^\s+mlp\s+4,328,521,728\s+64\.2%$/m);
  assert.match(text.stdout, /^\s+total\s+6,738,415,616\s+100\.0%$/m);

  assert.equal(JSON.parse(json.stdout).parameters, 6_738_415_616);
  const t = JSON.parse(train.stdout);
  assert.equal(t.tokens, 1e12);
  assert.equal(t.flops, 6 * 6_738_415_616 * 1e12);
  const i = JSON.parse(infer.stdout);
  assert.equal(i.kvCacheBytesPerToken, 2 * 1 * 80 * 8 * 128);
  assert.equal(i.kvCacheBytes, 8 * 4096 * 163_840);
  assert.ok(i.decode.commsSeconds > 0);
  assert.match(fit.stdout, /longest context at batch 1\s+32,768/);
  assert.match(fit.stdout, /^\s+batch\s+max context$/m);
});

test('bad input gives one clear line and a non-zero exit', async () => {
  const malformed = join(dir, 'bad.json');
  writeFileSync(malformed, JSON.stringify({ model_type: 'llama', hidden_size: 4096 }));
  const [unknown, negative, absurd, fraction, dtype, config, hub] = await inTurn([
    () => moxing('params', '--model', 'llama-8b'),
    () => moxing('train', '--model', 'llama-7b', '--tokens', '-5'),
    () => moxing('train', '--model', 'llama-7b', '--tokens', '1e30'),
    () => moxing('infer', '--model', 'llama-7b', '--batch', '1.5'),
    () => moxing('fit', '--model', 'llama-7b', '--dtype', 'fp7'),
    () => moxing('params', '--model', malformed),
    () => moxing('params', '--model', 'nobody/no-such-model'),
  ]);
  oneLineError(unknown, /unknown model "llama-8b"/);
  oneLineError(negative, /--tokens must be a positive number.*"-5"/);
  assert.equal(negative.code, 2);
  oneLineError(absurd, /tokens must be a number from 1 to/);
  oneLineError(fraction, /--batch must be a whole number.*"1\.5"/);
  oneLineError(dtype, /--dtype must be one of .*"fp7"/);
  oneLineError(config, /bad\.json: "num_attention_heads" is missing/);
  oneLineError(hub, /offline/);
});

test('the real process: calc params prints its table and exits 0 (one child-process smoke test)', async () => {
  const run = await runMoxing(['calc', 'params', '--model', 'llama-7b'], ENV);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /parameters\s+6,738,415,616/);
});
