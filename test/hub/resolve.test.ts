import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  closeAliases,
  onnxFile,
  parseModelRef,
  parseVariant,
  pickWhisperLayout,
  resolveModel,
  resolveWhisperModel,
  VARIANT_SUFFIXES,
  whisperFiles,
  externalDataFiles,
  CATALOG,
  pullModel,
} from '../../src/hub/index.js';
import { isMoxingError } from '../../src/errors.js';
import { seededBytes, sha256, startFakeHub, whisperRepo, type FakeHub } from './fake-hub.js';

const SHARED_MODEL = join(process.cwd(), '..', 'shared', 'models', 'whisper-tiny-random');

describe('variants and the Whisper file layout', () => {
  it('maps variants to the real export suffixes, frozen', () => {
    assert.deepEqual({ ...VARIANT_SUFFIXES }, { fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4' });
    assert.ok(Object.isFrozen(VARIANT_SUFFIXES));
    assert.equal(onnxFile('onnx/encoder_model', 'q8'), 'onnx/encoder_model_quantized.onnx');
    assert.equal(onnxFile('onnx/model', 'fp16'), 'onnx/model_fp16.onnx');
    assert.equal(parseVariant('q4'), 'q4');
    assert.throws(() => parseVariant('int3'), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && /fp32, fp16, q8, q4/.test(e.message));
  });

  it('names the files of both decoder layouts and the timestamped decoder', () => {
    assert.deepEqual(whisperFiles('q4', 'merged').decoders, ['onnx/decoder_model_merged_q4.onnx']);
    assert.deepEqual(whisperFiles('fp16', 'split').decoders, ['onnx/decoder_model_fp16.onnx', 'onnx/decoder_with_past_model_fp16.onnx']);
    assert.deepEqual(whisperFiles('fp32', 'merged', true).decoders, ['onnx/decoder_model_merged_timestamped.onnx']);
    assert.equal(whisperFiles('q8').encoder, 'onnx/encoder_model_quantized.onnx');
    const both = new Set(['onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx', 'onnx/decoder_model.onnx', 'onnx/decoder_with_past_model.onnx']);
    assert.equal(pickWhisperLayout(both, 'fp32')?.layout, 'merged');
    both.delete('onnx/decoder_model_merged.onnx');
    assert.equal(pickWhisperLayout(both, 'fp32')?.layout, 'split');
    both.delete('onnx/decoder_with_past_model.onnx');
    assert.equal(pickWhisperLayout(both, 'fp32'), undefined);
  });
});

describe('model references', () => {
  it('parses aliases, repo ids with revisions, and folders', () => {
    const alias = parseModelRef('whisper-tiny');
    assert.equal(alias.kind === 'hub' && alias.repo, 'onnx-community/whisper-tiny');
    const pinned = parseModelRef('Xenova/whisper-base@refs/pr/2');
    assert.equal(pinned.kind === 'hub' && `${pinned.repo} ${pinned.revision}`, 'Xenova/whisper-base refs/pr/2');
    assert.equal(parseModelRef(SHARED_MODEL).kind, 'local');
    for (const e of CATALOG) assert.match(e.repo, /^[\w-]+\/[\w.-]+$/, e.alias);
    for (const a of ['whisper-large-v3-turbo', 'whisper-medium.en', 'dinov2-giant-reg', 'dino-vitb8', 'wav2vec2-base-960h']) {
      assert.equal(parseModelRef(a).kind, 'hub', a);
    }
  });

  it('rejects unknown names with MODEL_UNKNOWN and close aliases', () => {
    assert.throws(() => parseModelRef('whisper-tiyn'), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN') && /whisper-tiny/.test(e.message) && /moxing models/.test(e.message));
    assert.throws(() => parseModelRef('./no/such/folder'), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN') && /no folder exists/.test(e.message));
    assert.throws(() => parseModelRef('not a model!'), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN'));
    assert.deepEqual(closeAliases('large-v3').slice(0, 2).sort(), ['whisper-large-v3', 'whisper-large-v3-turbo']);
  });
});

describe('local folders', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moxing-local-'));
    await mkdir(join(dir, 'onnx'));
    for (const f of ['onnx/encoder_model.onnx', 'onnx/decoder_model.onnx', 'onnx/decoder_with_past_model.onnx', 'config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      await writeFile(join(dir, f), 'x');
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('picks the merged decoder in the shared fixture, which has both layouts, and the timestamped one on request', async () => {
    const m = await resolveWhisperModel(SHARED_MODEL, { offline: true });
    assert.equal(m.decoder.kind, 'merged');
    assert.equal(m.decoder.kind === 'merged' && m.decoder.path, join(SHARED_MODEL, 'onnx/decoder_model_merged.onnx'));
    assert.equal(m.encoder, join(SHARED_MODEL, 'onnx/encoder_model.onnx'));
    assert.equal(m.tokenizer, join(SHARED_MODEL, 'tokenizer.json'));
    const t = await resolveWhisperModel(SHARED_MODEL, { timestamped: true });
    assert.deepEqual(t.decoder, { kind: 'merged', path: join(SHARED_MODEL, 'onnx/decoder_model_merged_timestamped.onnx'), timestamped: true });
  });

  it('falls back to the split pair when the folder has no merged decoder', async () => {
    const m = await resolveWhisperModel(dir);
    assert.deepEqual(m.decoder, { kind: 'split', decoder: join(dir, 'onnx/decoder_model.onnx'), decoderWithPast: join(dir, 'onnx/decoder_with_past_model.onnx') });
    await assert.rejects(resolveWhisperModel(dir, { timestamped: true }), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && /timestamped/.test(e.message));
  });

  it('accepts graphs at the folder root, as optimum-cli export onnx writes them', async () => {
    const root = await mkdtemp(join(tmpdir(), 'moxing-root-'));
    try {
      for (const f of ['encoder_model_fp16.onnx', 'decoder_model_merged_fp16.onnx', 'config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
        await writeFile(join(root, f), 'x');
      }
      const m = await resolveWhisperModel(root, { variant: 'fp16' });
      assert.equal(m.encoder, join(root, 'encoder_model_fp16.onnx'));
      assert.deepEqual(m.decoder, { kind: 'merged', path: join(root, 'decoder_model_merged_fp16.onnx'), timestamped: false });
      await assert.rejects(resolveWhisperModel(root), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && /variants fp16/.test(e.message));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('names the missing variant and the variants the folder has', async () => {
    await assert.rejects(resolveWhisperModel(dir, { variant: 'q8' }), (e: unknown) => {
      assert.ok(isMoxingError(e, 'MODEL_INVALID'));
      assert.match(e.message, /encoder_model_quantized\.onnx/);
      assert.match(e.message, /variants fp32/);
      return true;
    });
    await assert.rejects(resolveModel(dir, { files: ['onnx/model.onnx'] }), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && /onnx\/model\.onnx/.test(e.message));
  });
});

describe('hub models through the cache', () => {
  let hub: FakeHub;
  let cache: string;
  // A graph whose weights live in a companion file, as large exports do: the graph names it in external_data.
  const location = (name: string): Buffer => Buffer.concat([Buffer.from([0x0a, 0x08]), Buffer.from('location'), Buffer.from([0x12, name.length]), Buffer.from(name)]);
  const bigGraph = Buffer.concat([seededBytes(1000, 9), location('encoder_model.onnx_data'), seededBytes(1000, 10)]);
  const weights = seededBytes(200_000, 11);

  before(async () => {
    const withData = whisperRepo('merged');
    withData['onnx/encoder_model.onnx'] = { bytes: bigGraph };
    withData['onnx/encoder_model.onnx_data'] = { bytes: weights };
    // Stale companion beside a self-contained graph (as in some Xenova repos): must not be fetched.
    withData['onnx/decoder_model_merged.onnx_data'] = { bytes: seededBytes(100_000, 12) };
    hub = await startFakeHub({
      'onnx-community/whisper-tiny': whisperRepo('both', '_quantized'),
      'acme/split-only': whisperRepo('split'),
      'acme/both': whisperRepo('both'),
      'acme/big': withData,
      'onnx-community/whisper-base': whisperRepo('merged'),
      'onnx-community/whisper-base_timestamped': whisperRepo('merged'),
      'acme/vision': { 'onnx/model_fp16.onnx': { bytes: seededBytes(5000, 3) }, 'config.json': { bytes: Buffer.from('{}') }, 'preprocessor_config.json': { bytes: Buffer.from('{}') } },
    });
    cache = await mkdtemp(join(tmpdir(), 'moxing-cache-'));
  });
  after(async () => {
    await hub.close();
    await rm(cache, { recursive: true, force: true });
  });
  const opts = () => ({ endpoint: hub.endpoint, cacheDir: cache, offline: false, token: undefined, retryDelayMs: 5 });

  it('offline with nothing cached: MODEL_OFFLINE names the missing files and the pull command, without network', async () => {
    const before = hub.requests.length;
    await assert.rejects(resolveWhisperModel('whisper-tiny', { ...opts(), offline: true, variant: 'q8' }), (e: unknown) => {
      assert.ok(isMoxingError(e, 'MODEL_OFFLINE'));
      assert.match(e.message, /onnx\/encoder_model_quantized\.onnx/);
      assert.match(e.message, /onnx\/decoder_model_merged_quantized\.onnx/);
      assert.match(e.message, /tokenizer\.json/);
      assert.match(e.message, /moxing pull whisper-tiny --variant q8/);
      return true;
    });
    assert.equal(hub.requests.length, before);
  });

  it('downloads the merged layout of the variant into <cache>/models/<owner>--<name>/<revision>/, then works offline', async () => {
    const m = await resolveWhisperModel('whisper-tiny', { ...opts(), variant: 'q8' });
    const snap = join(cache, 'models', 'onnx-community--whisper-tiny', 'main');
    assert.equal(m.dir, snap);
    assert.equal(m.repo, 'onnx-community/whisper-tiny');
    assert.deepEqual(m.decoder, { kind: 'merged', path: join(snap, 'onnx/decoder_model_merged_quantized.onnx'), timestamped: false });
    assert.equal(sha256(await readFile(m.encoder)), sha256(whisperRepo('both', '_quantized')['onnx/encoder_model_quantized.onnx'].bytes));
    assert.ok((await readdir(join(snap, 'onnx'))).every((f) => !f.startsWith('decoder_model_quantized')), 'the split pair is not fetched');
    assert.ok((await readdir(snap)).includes('vocab.json'), 'optional files the repo has are fetched');

    const before = hub.requests.length;
    const again = await resolveWhisperModel('onnx-community/whisper-tiny', { ...opts(), variant: 'q8' });
    assert.equal(again.encoder, m.encoder);
    const offline = await resolveWhisperModel('whisper-tiny', { ...opts(), offline: true, variant: 'q8' });
    assert.equal(offline.encoder, m.encoder);
    assert.equal(hub.requests.length, before, 'cached models need no network');
    await assert.rejects(resolveWhisperModel('whisper-tiny', { ...opts(), variant: 'fp16' }), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && /variants q8/.test(e.message));

    // The repo gains an fp16 export after the listing was cached: the listing is fetched again.
    const repo = hub.repos.get('onnx-community/whisper-tiny');
    for (const [path, file] of Object.entries(whisperRepo('merged', '_fp16'))) if (path.endsWith('.onnx')) repo?.set(path, file);
    const fp16 = await resolveWhisperModel('whisper-tiny', { ...opts(), variant: 'fp16' });
    assert.equal(fp16.encoder, join(snap, 'onnx/encoder_model_fp16.onnx'));
  });

  it('uses the split pair when the repo has no merged decoder, with or without the tree API', async () => {
    const m = await resolveWhisperModel('acme/split-only', opts());
    assert.equal(m.decoder.kind, 'split');
    hub.noTreeApi = true;
    try {
      const m2 = await resolveWhisperModel('acme/split-only@v2', { ...opts() }).catch((e: unknown) => e);
      // The fake hub only serves "main"; @v2 must fail naming the URL of the revision.
      assert.ok(isMoxingError(m2, 'DOWNLOAD_FAILED') && /resolve\/v2\//.test(m2.message));
      await rm(join(cache, 'models', 'acme--split-only'), { recursive: true });
      const m3 = await resolveWhisperModel('acme/split-only', opts());
      assert.equal(m3.decoder.kind, 'split');
    } finally {
      hub.noTreeApi = false;
    }
  });

  it('falls back to the split pair only on a 404 for the merged graph, not on a failure whose message says 404', async () => {
    // No tree API, so the merged layout is tried first. The merged graph's connection drops after exactly
    // 404 bytes: a transient failure whose message reads "byte 404", which is no missing file.
    hub.noTreeApi = true;
    const snap = join(cache, 'models', 'acme--both', 'main');
    const partial = join(snap, 'onnx', 'decoder_model_merged.onnx.incomplete');
    hub.dropNext('onnx/decoder_model_merged.onnx', 1, 404, async () => ((await readFile(partial).catch(() => Buffer.alloc(0))).length >= 404));
    try {
      await assert.rejects(resolveWhisperModel('acme/both', { ...opts(), maxAttempts: 1 }), (e: unknown) => {
        assert.ok(isMoxingError(e, 'DOWNLOAD_FAILED'));
        assert.match(e.message, /decoder_model_merged\.onnx after 1 attempts .*byte 404\b/);
        return true;
      });
      assert.ok(!(await readdir(join(snap, 'onnx'))).includes('decoder_model.onnx'), 'the split pair was not fetched instead');
      // The retry resumes the merged graph and uses it.
      const m = await resolveWhisperModel('acme/both', opts());
      assert.equal(m.decoder.kind, 'merged');
    } finally {
      hub.noTreeApi = false;
    }
  });

  it('fetches the external-data companion a graph names, and not a stale one beside a self-contained graph', async () => {
    assert.deepEqual(await externalDataFiles(join(SHARED_MODEL, 'onnx/encoder_model.onnx')), []);
    const m = await resolveWhisperModel('acme/big', opts());
    assert.deepEqual(await readFile(join(m.dir, 'onnx/encoder_model.onnx_data')), weights);
    assert.ok(!(await readdir(join(m.dir, 'onnx'))).includes('decoder_model_merged.onnx_data'));
    const pulled = await pullModel('acme/big', { ...opts(), offline: true });
    assert.deepEqual(pulled.files.at(-1), { path: 'onnx/encoder_model.onnx_data', bytes: weights.length });
    await rm(join(m.dir, 'onnx/encoder_model.onnx_data'));
    await assert.rejects(resolveWhisperModel('acme/big', { ...opts(), offline: true }), (e: unknown) => isMoxingError(e, 'MODEL_OFFLINE') && /encoder_model\.onnx_data/.test(e.message));
  });

  it('word timestamps from a catalogue model come from its _timestamped sibling repo when its own repo has none', async () => {
    const m = await resolveWhisperModel('whisper-base', { ...opts(), timestamped: true });
    assert.equal(m.repo, 'onnx-community/whisper-base_timestamped');
    assert.equal(m.dir, join(cache, 'models', 'onnx-community--whisper-base_timestamped', 'main'));
    assert.deepEqual(m.decoder, { kind: 'merged', path: join(m.dir, 'onnx/decoder_model_merged.onnx'), timestamped: true });
    const plain = await resolveWhisperModel('whisper-base', opts());
    assert.equal(plain.repo, 'onnx-community/whisper-base');
    assert.equal(plain.decoder.kind === 'merged' && plain.decoder.timestamped, false);
    await assert.rejects(resolveWhisperModel('acme/split-only', { ...opts(), timestamped: true }), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && /word timestamps/.test(e.message));
  });

  it('resolveModel fetches a generic file list (vision layout)', async () => {
    const dir = await resolveModel('acme/vision', { ...opts(), files: [onnxFile('onnx/model', 'fp16'), 'config.json'], optionalFiles: ['preprocessor_config.json', 'tokenizer.json'] });
    assert.deepEqual((await readdir(dir)).sort(), ['.moxing', 'config.json', 'onnx', 'preprocessor_config.json']);
    await assert.rejects(resolveModel('acme/vision', { ...opts(), files: ['onnx/model_q4.onnx'] }), (e: unknown) => {
      assert.ok(isMoxingError(e, 'MODEL_INVALID'));
      assert.match(e.message, /acme\/vision@main has no onnx\/model_q4\.onnx.*it has the variants fp16 of onnx\/model\.onnx/);
      return true;
    });
  });
  it('pullModel tells Whisper exports from single-graph ones by their files', async () => {
    const vision = await pullModel('acme/vision', { ...opts(), variant: 'fp16' });
    assert.equal(vision.task, 'single');
    assert.deepEqual(vision.files.map((f) => f.path), ['onnx/model_fp16.onnx', 'config.json', 'preprocessor_config.json']);
    assert.equal(vision.files[0].bytes, 5000);
    const local = await pullModel(SHARED_MODEL, { ...opts(), offline: true });
    assert.equal(local.task, 'whisper');
    assert.equal(local.dir, SHARED_MODEL);
    assert.equal(local.files.length, 7);
  });
});
