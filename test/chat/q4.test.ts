import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { withAccuracyLevel } from '../../src/chat/q4.js';
import { quantizeFile } from '../../src/quantize/index.js';
import { decodeModel } from '../../src/runtime/onnx/index.js';
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
