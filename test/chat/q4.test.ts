import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { accuracyLevelCopy, accuracyLevelSites, loadAtAccuracyLevel, withAccuracyLevel } from '../../src/chat/q4.js';
import { OnnxDecoder } from '../../src/chat/onnx-model.js';
import { quantizeFile } from '../../src/quantize/index.js';
import { loadSessionFromBytes } from '../../src/runtime/index.js';
import { decodeModel, encodeModel } from '../../src/runtime/onnx/index.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const dir = mkdtempSync(join(tmpdir(), 'moxing-q4-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const MESSAGES = [{ role: 'user' as const, content: 'What is the weather in Paris today?' }];

before(async () => {
  cpSync(await ensureLlmModel({ ...TINY_LLM, hidden: 64, intermediate: 128, name: 'llama-q4-test' }), dir, { recursive: true });
  // A q4 file as the exports ship it: MatMulNBits at accuracy level 0.
  quantizeFile(join(dir, 'onnx/model.onnx'), join(dir, 'onnx/model_q4.onnx'), { to: 'q4', accuracyLevel: 0 });
});

function levels(bytes: Uint8Array): number[] {
  const model = decodeModel(bytes);
  return (model.graph?.node ?? []).filter((n) => n.opType === 'MatMulNBits').map((n) => Number(n.attribute?.find((a) => a.name === 'accuracy_level')?.i ?? 0));
}

test('q4 loading rewrites every MatMulNBits to accuracy level 4; the logits move a little, the opt-out keeps level 0', async () => {
  const rewrite = await withAccuracyLevel(join(dir, 'onnx/model_q4.onnx'), 4);
  assert.ok(rewrite);
  const nodes = levels(rewrite.bytes);
  assert.ok(nodes.length >= 14, `${nodes.length} MatMulNBits`);
  assert.ok(nodes.every((l) => l === 4));
  assert.equal(rewrite.rewritten, nodes.length);
  const fast = await OnnxChatModel.load(dir, { variant: 'q4' });
  const exact = await OnnxChatModel.load(dir, { variant: 'q4', q4AccuracyLevel: false });
  const full = await OnnxChatModel.load(dir);
  const prompt = fast.promptIds(MESSAGES);
  const [a, b, c] = await Promise.all([fast, exact, full].map((m) => m.decoder.start([prompt]).prefill()));
  const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
  const scale = c.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const level4 = maxDiff(a, b);
  const q4 = maxDiff(b, c);
  console.log(`q4 logits: level 4 vs level 0 max |diff| ${level4.toExponential(2)}; q4 (level 0) vs fp32 ${q4.toExponential(2)}; logit scale ${scale.toFixed(2)}`);
  assert.ok(level4 < 0.05 * scale, `level 4 moved the logits by ${level4}`);
  assert.ok(q4 > 0, 'the q4 file is quantized');
  const greedy = await Promise.all([fast, exact].map((m) => m.chat(MESSAGES, { temperature: 0, maxTokens: 8 })));
  assert.equal(greedy[0].tokens.length, 8);
  assert.equal(greedy[1].tokens.length, 8);
});

test('the in-place patch finds every MatMulNBits level without decoding, and its copy loads to the same logits as the decoded rewrite', async () => {
  const path = join(dir, 'onnx/model_q4.onnx');
  const sites = accuracyLevelSites(path);
  assert.deepEqual(sites.map((s) => s.value), levels(readFileSync(path)));
  assert.ok(sites.every((s) => s.length === 1));
  const copy = await accuracyLevelCopy(path, 4);
  assert.ok(copy);
  try {
    assert.equal(copy.rewritten, sites.length);
    assert.deepEqual(levels(readFileSync(copy.path)), sites.map(() => 4));
    // The rest of the file is byte for byte the original.
    const [a, b] = [readFileSync(path), readFileSync(copy.path)];
    assert.equal(a.length, b.length);
    assert.equal(a.reduce((n, byte, i) => n + (byte !== b[i] ? 1 : 0), 0), sites.length);
    // Siblings (external data) are linked beside the copy.
    assert.ok(existsSync(join(copy.path, '..', 'model.onnx')));
  } finally {
    await copy.cleanup();
  }
  assert.equal(existsSync(copy.path), false, 'the temporary copy is removed');

  const patched = await OnnxChatModel.load(dir, { variant: 'q4', graphRewrites: false });
  const rewrite = await withAccuracyLevel(path, 4);
  const decoded = new OnnxDecoder(await loadSessionFromBytes('q4-test-decoded', () => rewrite!.bytes), patched.decoder.shape, patched.decoder.padId);
  const prompt = patched.promptIds(MESSAGES);
  const [x, y] = await Promise.all([patched.decoder, decoded].map((d) => d.start([prompt]).prefill()));
  assert.deepEqual(x, y);
});

test('a q4 file without accuracy_level attributes goes through the decoded rewrite; one already at the level loads as it is; a broken file is a clear error', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'moxing-q4-bare-'));
  try {
    const model = decodeModel(readFileSync(join(dir, 'onnx/model_q4.onnx')));
    for (const n of model.graph?.node ?? []) n.attribute = (n.attribute ?? []).filter((a) => a.name !== 'accuracy_level');
    const bare = join(folder, 'bare.onnx');
    writeFileSync(bare, encodeModel(model));
    assert.ok(accuracyLevelSites(bare).every((s) => s.offset === undefined));
    assert.equal(await accuracyLevelCopy(bare, 4), undefined);
    const level4 = join(folder, 'level4.onnx');
    writeFileSync(level4, (await withAccuracyLevel(bare, 4))!.bytes);
    const unchanged = await accuracyLevelCopy(level4, 4);
    await unchanged?.cleanup();
    assert.equal(unchanged?.rewritten, 0);
    const run = async (p: string) => {
      const session = await loadAtAccuracyLevel(p, 4);
      const reference = await OnnxChatModel.load(dir, { variant: 'q4' });
      return new OnnxDecoder(session, reference.decoder.shape, reference.decoder.padId).start([reference.promptIds(MESSAGES)]).prefill();
    };
    assert.deepEqual(await run(bare), await run(level4));
    const broken = join(folder, 'broken.onnx');
    writeFileSync(broken, Buffer.from([0x3a, 0xff, 0xff, 0x01]));
    assert.throws(() => accuracyLevelSites(broken), (e: Error & { code?: string }) => e.code === 'MODEL_INVALID' && /not an ONNX model/.test(e.message));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
