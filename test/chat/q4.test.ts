/**
 * q4 loading: the MatMulNBits accuracy level is set on the streamed copy the decoder loads from (graph-rewrite.ts),
 * in the main graph and in subgraphs; the result equals a decode-edit-encode rewrite of the same file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { checkAccuracyLevel, rewriteDecoderGraph } from '../../src/chat/graph-rewrite.js';
import { OnnxDecoder } from '../../src/chat/onnx-model.js';
import { quantizeFile } from '../../src/quantize/index.js';
import { loadSessionFromBytes } from '../../src/runtime/index.js';
import { decodeModel, encodeModel, graphsOf, type GraphProto, type ModelProto } from '../../src/runtime/onnx/index.js';
import { rewriteGraphNodes } from '../../src/runtime/onnx/stream-rewrite.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';
import { ensureWhisperModel, TINY_WHISPER } from '../models/index.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('chat/q4', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-q4-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const MESSAGES = [{ role: 'user' as const, content: 'What is the weather in Paris today?' }];
  const Q4 = join(dir, 'onnx/model_q4.onnx');

  before(async () => {
    cpSync(await ensureLlmModel({ ...TINY_LLM, hidden: 64, intermediate: 128, name: 'llama-q4-test' }), dir, { recursive: true });
    // A q4 file as the exports ship it: MatMulNBits at accuracy level 0.
    quantizeFile(join(dir, 'onnx/model.onnx'), Q4, { to: 'q4', accuracyLevel: 0 });
  });

  /** The accuracy level of every MatMulNBits of the model, subgraphs included (absent: 0). */
  function levels(model: ModelProto): number[] {
    return [...graphsOf(model.graph as GraphProto)].flatMap((g: GraphProto) => (g.node ?? []).filter((n) => n.opType === 'MatMulNBits').map((n) => Number(n.attribute?.find((a) => a.name === 'accuracy_level')?.i ?? 0)));
  }

  /** The streamed rewrite of `path` to `level` only, written to `out`; false when nothing changed. */
  function streamedToLevel(path: string, out: string, level: number): boolean {
    return rewriteGraphNodes(path, out, (g) => rewriteDecoderGraph(g, { accuracyLevel: level }));
  }

  test('q4 loading runs every MatMulNBits at accuracy level 4; the logits move a little, the opt-out keeps level 0', async () => {
    const out = join(dir, 'level4.onnx');
    assert.ok(streamedToLevel(Q4, out, 4));
    const nodes = levels(decodeModel(readFileSync(out)));
    assert.ok(nodes.length >= 14, `${nodes.length} MatMulNBits`);
    assert.ok(nodes.every((l) => l === 4));
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
    assert.ok(level4 > 0 && level4 < 0.05 * scale, `level 4 moved the logits by ${level4}`);
    assert.ok(q4 > 0, 'the q4 file is quantized');
    const greedy = await Promise.all([fast, exact].map((m) => m.chat(MESSAGES, { temperature: 0, maxTokens: 8 })));
    assert.equal(greedy[0].tokens.length, 8);
    assert.equal(greedy[1].tokens.length, 8);
  });

  test('the streamed level equals a decode-edit-encode of the file: the same logits; a file already at the level is left alone', async () => {
    const patched = await OnnxChatModel.load(dir, { variant: 'q4', graphRewrites: false });
    const model = decodeModel(readFileSync(Q4));
    for (const n of model.graph?.node ?? []) {
      if (n.opType === 'MatMulNBits') n.attribute = [...(n.attribute ?? []).filter((a) => a.name !== 'accuracy_level'), { name: 'accuracy_level', type: 2, i: 4 }];
    }
    const decoded = new OnnxDecoder(await loadSessionFromBytes('q4-test-decoded', () => encodeModel(model)), patched.decoder.shape, patched.decoder.padId);
    const prompt = patched.promptIds(MESSAGES);
    const [x, y] = await Promise.all([patched.decoder, decoded].map((d) => d.start([prompt]).prefill()));
    assert.deepEqual(x, y);
    const level4 = join(dir, 'already.onnx');
    writeFileSync(level4, encodeModel(model));
    assert.equal(streamedToLevel(level4, join(dir, 'unused.onnx'), 4), false, 'nothing to change, nothing written');
  });

  test('a merged decoder\'s If branches get the level too; a file without accuracy_level attributes gets them; bad levels and files are clear errors', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'moxing-q4-merged-'));
    try {
      const merged = join(folder, 'decoder_q4.onnx');
      quantizeFile(join(await ensureWhisperModel(TINY_WHISPER), 'onnx/decoder_model_merged.onnx'), merged, { to: 'q4', accuracyLevel: 0 });
      const before = decodeModel(readFileSync(merged));
      assert.ok(before.graph?.node?.some((n) => n.opType === 'If'));
      assert.ok(levels(before).length > 0 && levels(before).every((l) => l === 0));
      assert.ok(streamedToLevel(merged, join(folder, 'merged4.onnx'), 4));
      const after4 = levels(decodeModel(readFileSync(join(folder, 'merged4.onnx'))));
      assert.deepEqual(after4, levels(before).map(() => 4));

      const bare = decodeModel(readFileSync(Q4));
      for (const n of bare.graph?.node ?? []) n.attribute = (n.attribute ?? []).filter((a) => a.name !== 'accuracy_level');
      writeFileSync(join(folder, 'bare.onnx'), encodeModel(bare));
      assert.ok(streamedToLevel(join(folder, 'bare.onnx'), join(folder, 'bare4.onnx'), 4));
      assert.ok(levels(decodeModel(readFileSync(join(folder, 'bare4.onnx')))).every((l) => l === 4));

      assert.throws(() => checkAccuracyLevel(5), /accuracy level must be 0 to 4, got 5/);
      await assert.rejects(OnnxChatModel.load(dir, { variant: 'q4', q4AccuracyLevel: 7 }), /accuracy level must be 0 to 4, got 7/);
      writeFileSync(join(folder, 'broken.onnx'), Buffer.from([0x3a, 0xff, 0xff, 0x01]));
      assert.throws(() => streamedToLevel(join(folder, 'broken.onnx'), join(folder, 'x.onnx'), 4), (e: Error & { code?: string }) => e.code === 'MODEL_INVALID');
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
