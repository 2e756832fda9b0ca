import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelRef, pickGguf, resolveGguf, splitGgufSelector } from '../../src/hub/index.js';
import { chooseEngine, loadChatModel } from '../../src/chat/load.js';
import { loadEmbeddingModel } from '../../src/embeddings/index.js';
import { isMoxingError } from '../../src/errors.js';
import { ensureLlmGguf } from '../models/gguf.js';
import { TINY_LLM } from '../models/llm.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';

const REPO = 'test-org/tiny-llm-GGUF';

describe('GGUF selectors', () => {
  const files = ['README.md', 'tiny-F32.gguf', 'tiny-Q4_0.gguf', 'tiny-Q4_0_4_4.gguf', 'sub/tiny.Q8_0.gguf', 'big-Q6_K-00001-of-00002.gguf', 'big-Q6_K-00002-of-00002.gguf'];

  it('splits owner/name[@rev]:SELECTOR and leaves paths and plain ids whole', () => {
    assert.deepEqual(splitGgufSelector('owner/name:Q4_K_M'), { ref: 'owner/name', selector: 'Q4_K_M' });
    assert.deepEqual(splitGgufSelector('owner/name@v1.0:model-Q4_0.gguf'), { ref: 'owner/name@v1.0', selector: 'model-Q4_0.gguf' });
    for (const whole of ['owner/name', 'owner/name@main', './models/x:Q4_0', '/abs/x:Q4_0', 'C:\\models\\x', 'owner/name:bad/sel']) assert.deepEqual(splitGgufSelector(whole), { ref: whole, selector: undefined });
  });

  it('picks by exact name, repo path or whole quantization name; refuses none, several and split files by name', () => {
    assert.equal(pickGguf(files, 'Q4_0', REPO), 'tiny-Q4_0.gguf');
    assert.equal(pickGguf(files, 'q8_0', REPO), 'sub/tiny.Q8_0.gguf');
    assert.equal(pickGguf(files, 'tiny-Q4_0_4_4.gguf', REPO), 'tiny-Q4_0_4_4.gguf');
    assert.equal(pickGguf(files, 'sub/tiny.Q8_0.gguf', REPO), 'sub/tiny.Q8_0.gguf');
    assert.equal(pickGguf(['only-F16.gguf', 'x.md'], undefined, REPO), 'only-F16.gguf');
    assert.throws(() => pickGguf(files, 'Q5_K_M', REPO), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && /no GGUF file matching "Q5_K_M"; it has .*tiny-Q4_0.gguf/.test(e.message));
    assert.throws(() => pickGguf(files, undefined, REPO), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && /has 6 GGUF files.*selector/.test(e.message));
    assert.throws(() => pickGguf(files, 'tiny', REPO), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && /matching "tiny"/.test(e.message));
    assert.throws(() => pickGguf(files, 'Q6_K', REPO), /split GGUF/);
    assert.throws(() => pickGguf(['README.md'], 'Q4_0', REPO), /has no .gguf file/);
  });

  it('a selector or a *GGUF* repo name sends a hub reference to llama.cpp; others stay ONNX', () => {
    assert.equal(chooseEngine('owner/model:Q4_0', {}).engine, 'llama.cpp');
    assert.equal(chooseEngine('owner/model', { file: 'model-Q4_0.gguf' }).engine, 'llama.cpp');
    assert.equal(chooseEngine('owner/Model-GGUF', {}).engine, 'llama.cpp');
    assert.equal(chooseEngine('owner/model', {}).engine, 'onnx');
    assert.equal(chooseEngine('owner/model:Q4_0', { engine: 'onnx' }).engine, 'onnx');
  });
});

describe('GGUF files from a hub repo (the fake hub)', () => {
  let hub: FakeHub;
  let cacheDir = '';
  const f32 = ensureLlmGguf(TINY_LLM, 'F32');
  const q4 = ensureLlmGguf(TINY_LLM, 'Q4_0');

  before(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'moxing-gguf-hub-'));
    hub = await startFakeHub({ [REPO]: { 'README.md': { bytes: Buffer.from('# tiny'), lfs: false }, 'tiny-llm-F32.gguf': { bytes: readFileSync(f32), lfs: true }, 'tiny-llm-Q4_0.gguf': { bytes: readFileSync(q4), lfs: true } } });
  });
  after(async () => {
    await hub?.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('owner/name:Q4_0 downloads only that file, verified, and chats as the local file does', async () => {
    const options = { hub: { endpoint: hub.endpoint, cacheDir } };
    const model = await loadChatModel(`${REPO}:Q4_0`, options);
    const local = await loadChatModel(q4);
    try {
      assert.equal(model.engine, 'llama.cpp');
      assert.equal(model.id, `${REPO}:Q4_0`);
      const fetched = hub.requests.filter((r) => /\.gguf/.test(r.url) && r.server === 'hub').map((r) => r.url);
      assert.ok(fetched.length > 0 && fetched.every((u) => u.includes('tiny-llm-Q4_0.gguf')), fetched.join(' '));
      const ours = await model.generate('Once upon a time', { temperature: 0, maxTokens: 12 });
      const reference = await local.generate('Once upon a time', { temperature: 0, maxTokens: 12 });
      assert.deepEqual(ours.tokens, reference.tokens);
    } finally {
      await model.dispose();
      await local.dispose();
    }
  });

  it('@rev and an exact file name resolve too; the embedding loader takes the same reference', async () => {
    const path = await resolveGguf(parseModelRef(`${REPO}@main`), 'tiny-llm-F32.gguf', { endpoint: hub.endpoint, cacheDir });
    assert.deepEqual(readFileSync(path), readFileSync(f32));
    const embedder = await loadEmbeddingModel(`${REPO}:F32`, { hub: { endpoint: hub.endpoint, cacheDir } });
    try {
      assert.equal(embedder.engine, 'llama.cpp');
      assert.equal(embedder.dimensions, TINY_LLM.hidden);
    } finally {
      await embedder.dispose();
    }
  });

  it('offline, cached files load without a request and a file not downloaded is MODEL_OFFLINE with the pull hint', async () => {
    const before = hub.requests.length;
    const path = await resolveGguf(parseModelRef(REPO), 'Q4_0', { endpoint: hub.endpoint, cacheDir, offline: true });
    assert.deepEqual(readFileSync(path), readFileSync(q4));
    assert.equal(hub.requests.length, before, 'no request offline');
    const freshCache = await mkdtemp(join(tmpdir(), 'moxing-gguf-offline-'));
    try {
      await assert.rejects(resolveGguf(parseModelRef(REPO), 'Q4_0', { endpoint: hub.endpoint, cacheDir: freshCache, offline: true }), (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && /cached .*offline.*no \.gguf file/.test(e.message));
      assert.equal(hub.requests.length, before, 'no request offline');
      // With the listing cached by an online visit, a quantization not downloaded yet is named with the command that fetches it.
      await resolveGguf(parseModelRef(REPO), 'Q4_0', { endpoint: hub.endpoint, cacheDir: freshCache });
      const online = hub.requests.length;
      await assert.rejects(resolveGguf(parseModelRef(REPO), 'F32', { endpoint: hub.endpoint, cacheDir: freshCache, offline: true }), (e: unknown) => isMoxingError(e, 'MODEL_OFFLINE') && /missing tiny-llm-F32\.gguf.*moxing pull test-org\/tiny-llm-GGUF --file F32/.test(e.message));
      assert.equal(hub.requests.length, online, 'no request offline');
    } finally {
      await rm(freshCache, { recursive: true, force: true });
    }
  });

  it('moxing pull owner/name:Q4_0 (and --file) fetches that file from HF_ENDPOINT into MOXING_CACHE', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'moxing-gguf-pull-'));
    try {
      const env = { HF_ENDPOINT: hub.endpoint, MOXING_CACHE: cache, MOXING_OFFLINE: undefined, HF_HUB_OFFLINE: undefined };
      const pulled = await runMoxingInProcess(['pull', `${REPO}:Q4_0`, '--json'], env);
      assert.equal(pulled.code, 0, pulled.stderr);
      const result = JSON.parse(pulled.stdout) as { file: string; bytes: number };
      assert.equal(result.file, join(cache, 'models', 'test-org--tiny-llm-GGUF', 'main', 'tiny-llm-Q4_0.gguf'));
      assert.deepEqual(readFileSync(result.file), readFileSync(q4));
      const byFlag = await runMoxingInProcess(['pull', REPO, '--file', 'F32'], env);
      assert.equal(byFlag.code, 0, byFlag.stderr);
      assert.match(byFlag.stdout, /tiny-llm-F32\.gguf/);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });

  it('an unknown quantization names what the repo has; a repo without GGUFs says so', async () => {
    await assert.rejects(resolveGguf(parseModelRef(REPO), 'Q5_K_M', { endpoint: hub.endpoint, cacheDir }), /no GGUF file matching "Q5_K_M"; it has tiny-llm-F32.gguf, tiny-llm-Q4_0.gguf/);
    await assert.rejects(resolveGguf(parseModelRef(REPO), undefined, { endpoint: hub.endpoint, cacheDir }), /2 GGUF files .*selector/);
  });
});
