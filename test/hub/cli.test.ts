import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeHub, whisperRepo, type FakeHub } from './fake-hub.js';
import type { CliRun } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';

// In this process, so the fake hub keeps answering while the command runs; the env is the command's.
function moxing(args: string[], env: Record<string, string>): Promise<CliRun> {
  return runMoxingInProcess(args, { MOXING_OFFLINE: undefined, HF_HUB_OFFLINE: undefined, ...env });
}

describe('moxing pull and moxing models', () => {
  let hub: FakeHub;
  let cache: string;
  const repo = whisperRepo('both', '_quantized');

  before(async () => {
    hub = await startFakeHub({ 'onnx-community/whisper-tiny': repo });
    cache = await mkdtemp(join(tmpdir(), 'moxing-cli-'));
  });
  after(async () => {
    await hub.close();
    await rm(cache, { recursive: true, force: true });
  });

  it('pull fetches every file of the variant from HF_ENDPOINT into MOXING_CACHE; models lists it', async () => {
    const env = { HF_ENDPOINT: hub.endpoint, MOXING_CACHE: cache, HF_TOKEN: 'hf_cli' };
    // A half-downloaded encoder from an interrupted run is resumed, not fetched again.
    const snap = join(cache, 'models', 'onnx-community--whisper-tiny', 'main');
    const encoder = repo['onnx/encoder_model_quantized.onnx'].bytes;
    await import('node:fs/promises').then((fs) => fs.mkdir(join(snap, 'onnx'), { recursive: true }));
    await writeFile(join(snap, 'onnx', 'encoder_model_quantized.onnx.incomplete'), encoder.subarray(0, 1000));

    const pulled = await moxing(['pull', 'whisper-tiny', '--variant', 'q8', '--json'], env);
    assert.equal(pulled.code, 0, pulled.stderr);
    const result = JSON.parse(pulled.stdout) as { dir: string; task: string; files: { path: string; bytes: number }[] };
    assert.equal(result.dir, snap);
    assert.equal(result.task, 'whisper');
    assert.deepEqual(result.files.map((f) => f.path).slice(0, 2), ['onnx/encoder_model_quantized.onnx', 'onnx/decoder_model_merged_quantized.onnx']);
    assert.deepEqual(await readFile(join(snap, 'onnx', 'encoder_model_quantized.onnx')), encoder);
    assert.ok(hub.requests.some((r) => r.server === 'cdn' && r.range === 'bytes=1000-' && r.status === 206), 'the partial encoder was resumed');
    assert.ok(hub.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === 'Bearer hf_cli'), 'HF_TOKEN is sent to the hub');

    const listed = await moxing(['models', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const models = JSON.parse(listed.stdout) as { cacheDir: string; catalog: { alias: string }[]; cached: { alias?: string; repo: string; bytes: number }[] };
    assert.equal(models.cacheDir, cache);
    assert.ok(models.catalog.some((e) => e.alias === 'whisper-large-v3-turbo'));
    assert.equal(models.cached.length, 1);
    assert.equal(models.cached[0].alias, 'whisper-tiny');
    assert.ok(models.cached[0].bytes > 2 * 64 * 1024, 'encoder and merged decoder are cached');

    const text = await moxing(['models'], env);
    assert.match(text.stdout, /whisper-tiny\s+onnx-community\/whisper-tiny\s+whisper\s+yes/);
    assert.match(text.stdout, /1 model snapshot/);

    // Offline afterwards: the cached variant resolves, a missing one names its files and the pull command.
    const again = await moxing(['pull', 'whisper-tiny', '--variant', 'q8'], { ...env, MOXING_OFFLINE: '1' });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /whisper-tiny \(onnx-community\/whisper-tiny@main, whisper, q8\)/);
    // Sizes in decimal units at a readable scale (calc's formatBytes): small files are not "0.0 MB".
    assert.match(again.stdout, /^ {2}onnx\/encoder_model_quantized\.onnx {2}65\.5 kB$/m);
    assert.match(again.stdout, /^ {2}config\.json {2}22 B$/m);
    await rm(join(snap, 'tokenizer.json'));
    const missing = await moxing(['pull', 'whisper-tiny', '--variant', 'q8'], { ...env, HF_HUB_OFFLINE: '1' });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^moxing: offline mode is on .*missing tokenizer\.json in .*`moxing pull whisper-tiny --variant q8`/);
    assert.equal(missing.stderr.trim().split('\n').length, 1, 'one line');
    // The cached listing knows the repo's variants even offline.
    const absent = await moxing(['pull', 'whisper-tiny', '--variant', 'q4'], { ...env, MOXING_OFFLINE: '1' });
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /no complete Whisper export for variant q4.*It has the variants q8/);
  });

  it('fails with one line and a non-zero exit on an unknown model and an unknown repo', async () => {
    const env = { HF_ENDPOINT: hub.endpoint, MOXING_CACHE: cache };
    const unknown = await moxing(['pull', 'whisper-tinny'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown model.*Did you mean whisper-tiny/);
    const absent = await moxing(['pull', 'acme/absent'], env);
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /acme\/absent\/resolve\/main\/.* answered 401.*no such repository; check the model name/);
    const dashes = await moxing(['pull', 'acme/my--model'], env);
    assert.equal(dashes.code, 1);
    assert.match(dashes.stderr, /^moxing: "acme\/my--model" is not a valid hub repo id: the hub forbids "--" and "\.\." in repo ids/);

  });
});
