/**
 * The chat decoder with its KV cache kept outside the session (graph-rewrite.ts `cacheOutside`,
 * runtime/onnx/cache-outside.ts, runtime/kv-buffers.ts) against the same graph as exported: the same logits, bit
 * for bit, at every step.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { loadRewrittenDecoder, rewriteDecoderGraph, type GraphRewrites } from '../../src/chat/graph-rewrite.js';
import { OnnxDecoder, type OnnxDecoderState } from '../../src/chat/onnx-model.js';
import { argmax } from '../../src/chat/sampling.js';
import { quantizeFile } from '../../src/quantize/index.js';
import { CACHE_LENGTH } from '../../src/runtime/onnx/cache-outside.js';
import { decodeModel, onnx } from '../../src/runtime/onnx/index.js';
import { rewriteGraphNodes, type GraphView } from '../../src/runtime/onnx/stream-rewrite.js';
import { ensureLlmModel, TINY_LLM, type LlmSpec } from '../models/llm.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('chat/cache-outside', () => {
  const work = mkdtempSync(join(tmpdir(), 'moxing-chat-cache-outside-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const RUNTIME = { intraOpThreads: 1 };
  const MESSAGES = [{ role: 'user' as const, content: 'What is the weather in Paris today? Tell me about it.' }];
  const Q4_SPEC: LlmSpec = { ...TINY_LLM, hidden: 64, intermediate: 128, name: 'llama-q4-test' };
  let q4Dir = '';

  before(async () => {
    q4Dir = join(work, 'q4');
    cpSync(await ensureLlmModel(Q4_SPEC), q4Dir, { recursive: true });
    quantizeFile(join(q4Dir, 'onnx/model.onnx'), join(q4Dir, 'onnx/model_q4.onnx'), { to: 'q4', accuracyLevel: 0 });
  });

  /** The decoder of `file` in `dir` with `rewrites`, the cache kept outside and not. */
  async function decoders(dir: string, file: string, rewrites: GraphRewrites): Promise<{ model: OnnxChatModel; outside: OnnxDecoder; exported: OnnxDecoder }> {
    const model = await OnnxChatModel.load(dir, { graphRewrites: false, q4AccuracyLevel: false, runtime: RUNTIME });
    const { shape, padId } = model.decoder;
    const path = join(dir, 'onnx', file);
    const [a, b] = await Promise.all([loadRewrittenDecoder(path, { ...rewrites, cacheOutside: true }, RUNTIME), loadRewrittenDecoder(path, rewrites, RUNTIME)]);
    const [outside, exported] = [new OnnxDecoder(a, shape, padId), new OnnxDecoder(b, shape, padId)];
    assert.ok(outside.cacheOutside && outside.session.inputNames.includes(CACHE_LENGTH), 'the rewrite matched');
    assert.ok(!exported.cacheOutside);
    return { model, outside, exported };
  }

  /** Greedy steps after the prefill (every row fed its argmax, end tokens included): each step's logits, in order. */
  async function trace(state: OnnxDecoderState, steps: number): Promise<Float32Array[]> {
    const vocab = state.vocabSize;
    const logits = [await state.prefill()];
    for (let i = 0; i < steps; i++) {
      const last = logits[logits.length - 1];
      const next = Array.from({ length: state.rows }, (_, r) => [argmax(last.subarray(r * vocab, (r + 1) * vocab))]);
      logits.push(await state.feed(next));
    }
    return logits;
  }

  function assertSame(a: readonly Float32Array[], b: readonly Float32Array[], what: string): void {
    assert.equal(a.length, b.length);
    a.forEach((x, i) => assert.deepEqual(x, b[i], `${what}: the logits of step ${i} differ`));
  }

  /**
   * Two left-padded rows over 80 steps (past the first 64 positions of room, so the buffers grow), then a second
   * turn that reuses the first's cache as its prefix and feeds the rest of its prompt (many positions at once), and
   * another second turn on the same prefix.
   */
  async function assertSameDecode(dir: string, file: string, rewrites: GraphRewrites): Promise<void> {
    const { model, outside, exported } = await decoders(dir, file, rewrites);
    const prompt = model.promptIds(MESSAGES);
    const rows = [prompt, prompt.slice(5)];
    const [a, b] = [await trace(outside.start(rows), 80), await trace(exported.start(rows), 80)];
    assertSame(a, b, 'two left-padded rows');

    const turns = await Promise.all(
      [outside, exported].map(async (decoder) => {
        const first = decoder.start([prompt]);
        const firstLogits = await trace(first, 20);
        const next = [...first.tokens[0], ...model.promptIds([{ role: 'user', content: 'And tomorrow?' }])];
        const snapshot = first.snapshot();
        const second = decoder.start([next], snapshot);
        const secondLogits = await trace(second, 50);
        // The same prefix again, for another second turn: building on it left it as it was.
        const other = decoder.start([[...first.tokens[0].slice(0, -4), ...model.promptIds([{ role: 'user', content: 'Why?' }])]], snapshot);
        const otherLogits = await trace(other, 10);
        return { logits: [...firstLogits, ...secondLogits, ...otherLogits], reused: second.reused };
      }),
    );
    assert.ok(turns[0].reused > prompt.length, `the second turn reused ${turns[0].reused} positions`);
    assert.equal(turns[0].reused, turns[1].reused);
    assertSame(turns[0].logits, turns[1].logits, 'a reused prefix');
  }

  test('fp32: the same logits, bit for bit, with the other rewrites and without', async () => {
    const dir = await ensureLlmModel(TINY_LLM);
    const others = { lastLogits: true, tiedHead: true, fuseRmsNorm: true, largestWeightFirst: true, groupedAttention: { heads: TINY_LLM.heads, kvHeads: TINY_LLM.kvHeads } };
    await assertSameDecode(dir, 'model.onnx', others);
    await assertSameDecode(dir, 'model.onnx', {});
  });

  test('a float16 cache (Cast around the Concat): the same logits, bit for bit', async () => {
    const spec = { ...TINY_LLM, kvDtype: 'float16' as const, name: 'llama-tiny-kv16' };
    const dir = await ensureLlmModel(spec);
    await assertSameDecode(dir, 'model.onnx', { lastLogits: true, groupedAttention: { heads: spec.heads, kvHeads: spec.kvHeads } });
  });

  test('q4 at accuracy level 4: the same logits, bit for bit', async () => {
    await assertSameDecode(q4Dir, 'model_q4.onnx', { accuracyLevel: 4, lastLogits: true, fuseRmsNorm: true, groupedAttention: { heads: Q4_SPEC.heads, kvHeads: Q4_SPEC.kvHeads } });
  });

  test('the rewritten float16 graph: only Slices read the pasts, each present is the new positions narrowed, the whole cache is not', async () => {
    const model = await ensureLlmModel({ ...TINY_LLM, kvDtype: 'float16', name: 'llama-tiny-kv16' });
    const out = join(work, 'kv16-outside.onnx');
    assert.ok(rewriteGraphNodes(join(model, 'onnx/model.onnx'), out, (g) => rewriteDecoderGraph(g, { cacheOutside: true })));
    const graph = decodeModel(readFileSync(out)).graph!;
    const nodes = graph.node ?? [];
    assert.equal(graph.input?.at(-1)?.name, CACHE_LENGTH);
    const pasts = (graph.input ?? []).map((i) => i.name ?? '').filter((n) => n.startsWith('past_key_values.'));
    assert.equal(pasts.length, 2 * TINY_LLM.layers);
    for (const past of pasts) {
      assert.deepEqual(nodes.filter((n) => n.input?.includes(past)).map((n) => n.opType), ['Slice']);
      const widened = nodes.find((n) => n.opType === 'Cast' && n.input?.[0] === `${past}/live`);
      const concat = nodes.find((n) => n.opType === 'Concat' && n.input?.[0] === widened?.output?.[0]);
      const present = nodes.find((n) => n.output?.includes(past.replace('past_key_values.', 'present.')));
      assert.equal(present?.opType, 'Cast');
      assert.equal(present?.input?.[0], concat?.input?.[1], 'the present narrows the new positions');
      assert.ok(!nodes.some((n) => n.opType === 'Cast' && n.input?.[0] === concat?.output?.[0]), 'the whole cache is not narrowed any more');
    }
  });

  test('the rewritten float32 graph: the node that makes the new positions outputs each present, no Identity copies them', async () => {
    const model = await ensureLlmModel(TINY_LLM);
    const out = join(work, 'fp32-outside.onnx');
    assert.ok(rewriteGraphNodes(join(model, 'onnx/model.onnx'), out, (g) => rewriteDecoderGraph(g, { cacheOutside: true })));
    const nodes = decodeModel(readFileSync(out)).graph!.node ?? [];
    const pasts = Array.from({ length: TINY_LLM.layers }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat();
    for (const past of pasts) {
      const present = past.replace('past_key_values.', 'present.');
      const maker = nodes.find((n) => n.output?.includes(present));
      assert.ok(maker && maker.opType !== 'Identity', `${present} is made by ${maker?.opType}`);
      const concat = nodes.find((n) => n.opType === 'Concat' && n.input?.[0] === `${past}/live`);
      assert.equal(concat?.input?.[1], present, 'the Concat reads the new positions under the present\'s name');
    }
    const identities = (list: readonly { opType?: string | null }[]) => list.filter((n) => n.opType === 'Identity').length;
    const exported = decodeModel(readFileSync(join(model, 'onnx/model.onnx'))).graph!.node ?? [];
    assert.equal(identities(exported) - identities(nodes), pasts.length, 'one Identity fewer per past input');
  });

  test('a present not made by Concat(past, new) (GroupQueryAttention): the graph stays as exported', async () => {
    const inputs = ['input_ids', 'attention_mask', 'past_key_values.0.key', 'past_key_values.0.value'];
    const outputs = ['logits', 'present.0.key', 'present.0.value'];
    const node = (opType: string, input: string[], output: string[], domain?: string) => onnx.NodeProto.create({ opType, input, output, name: output[0], ...(domain ? { domain } : {}) });
    const nodes = [
      node('Gather', ['embed', 'input_ids'], ['hidden']),
      node('MatMul', ['hidden', 'qkv_weight'], ['qkv']),
      node('GroupQueryAttention', ['qkv', '', '', 'past_key_values.0.key', 'past_key_values.0.value', 'seqlens_k', 'total_length'], ['attended', 'present.0.key', 'present.0.value'], 'com.microsoft'),
      node('MatMul', ['attended', 'head'], ['logits']),
    ];
    let added = 0;
    const view: GraphView = { nodes, inputs, outputs, initializers: new Map(), alias: (name) => name, addInput: () => added++ };
    assert.equal(rewriteDecoderGraph(view, { cacheOutside: true }), undefined);
    assert.equal(added, 0, 'no cache_length input');
    // The generated model with one present made otherwise (negated): no past is rewritten, nothing is written.
    const path = join(await ensureLlmModel(TINY_LLM), 'onnx/model.onnx');
    const unmatched = rewriteGraphNodes(path, join(work, 'unmatched.onnx'), (g) => {
      const edited = g.nodes.map((n) => (n.opType === 'Identity' && n.output?.[0] === 'present.1.value' ? { ...n, opType: 'Neg' } : n));
      return rewriteDecoderGraph({ ...g, nodes: edited }, { cacheOutside: true });
    });
    assert.equal(unmatched, false);
  });
});
