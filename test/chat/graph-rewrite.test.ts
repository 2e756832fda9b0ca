import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { MAX_ROTARY_TABLE_BYTES, rewriteDecoderGraph } from '../../src/chat/graph-rewrite.js';
import { OnnxDecoder } from '../../src/chat/onnx-model.js';
import { quantizeFile } from '../../src/quantize/index.js';
import { decodeModel, encodeModel } from '../../src/runtime/onnx/index.js';
import { rewriteGraphNodes } from '../../src/runtime/onnx/stream-rewrite.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';

const MESSAGES = [{ role: 'user' as const, content: 'What is the weather in Paris today? Tell me about it.' }];
const work = mkdtempSync(join(tmpdir(), 'moxing-graph-rewrite-'));
after(() => rmSync(work, { recursive: true, force: true }));

const opCounts = (path: string) => {
  const counts = new Map<string, number>();
  for (const n of decodeModel(readFileSync(path)).graph?.node ?? []) counts.set(n.opType ?? '', (counts.get(n.opType ?? '') ?? 0) + 1);
  return counts;
};

test('the streamed node rewrite copies every other byte: an unchanged node list gives the same file, an edited one the decoded edit', async () => {
  const path = join(await ensureLlmModel(TINY_LLM), 'onnx/model.onnx');
  const same = join(work, 'same.onnx');
  assert.equal(rewriteGraphNodes(path, same, (g) => [...g.nodes]), true);
  assert.deepEqual(readFileSync(same), readFileSync(path));
  assert.equal(rewriteGraphNodes(path, join(work, 'none.onnx'), () => undefined), false);
  assert.deepEqual(readdirSync(work), ['same.onnx'], 'nothing is written when the edit changes nothing');
  const renamed = join(work, 'renamed.onnx');
  rewriteGraphNodes(path, renamed, (g) => {
    assert.ok(g.inputs.includes('input_ids') && g.outputs.includes('logits'));
    assert.deepEqual(g.initializers.get('model.embed_tokens.weight')?.dims.length, 2);
    return g.nodes.map((n, i) => ({ ...n, name: `node_${i}` }));
  });
  const expected = decodeModel(readFileSync(path));
  expected.graph?.node?.forEach((n, i) => (n.name = `node_${i}`));
  assert.deepEqual(Buffer.from(encodeModel(decodeModel(readFileSync(renamed)))), Buffer.from(encodeModel(expected)));
});

for (const variant of [
  { name: 'untied head', spec: TINY_LLM },
  { name: 'tied head', spec: { ...TINY_LLM, tied: true, name: 'llama-tiny-tied' } },
  { name: 'float16 KV', spec: { ...TINY_LLM, kvDtype: 'float16' as const, name: 'llama-tiny-kv16' } },
]) {
  test(`graph rewrites (${variant.name}): repeat_kv and the full-sequence head are gone, the logits and greedy tokens are those of the graph as it is`, async () => {
    const dir = await ensureLlmModel(variant.spec);
    const path = join(dir, 'onnx/model.onnx');
    const out = join(work, `${variant.spec.name}.onnx`);
    const heads = { heads: variant.spec.heads, kvHeads: variant.spec.kvHeads };
    assert.ok(rewriteGraphNodes(path, out, (g) => rewriteDecoderGraph(g, { lastLogits: true, tiedHead: true, groupedAttention: heads })));
    const [before, afterwards] = [opCounts(path), opCounts(out)];
    assert.ok((before.get('Tile') ?? 0) > 0);
    assert.equal(afterwards.get('Tile') ?? 0, 0);
    assert.equal(afterwards.get('FusedMatMul') ?? 0, variant.spec.tied ? 1 : 0);
    assert.equal(afterwards.get('Slice'), (before.get('Slice') ?? 0) + 1);

    const [rewritten, plain] = await Promise.all([OnnxChatModel.load(dir), OnnxChatModel.load(dir, { graphRewrites: false })]);
    const prompt = rewritten.promptIds(MESSAGES);
    const [x, y] = await Promise.all([rewritten, plain].map((m) => m.decoder.start([prompt]).prefill()));
    const scale = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const diff = x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
    assert.ok(diff <= 1e-5 * scale, `the rewrite moved the logits by ${diff} on a scale of ${scale}`);
    const [a, b] = await Promise.all([rewritten, plain].map((m) => m.chat(MESSAGES, { temperature: 0, maxTokens: 16 })));
    assert.deepEqual(a.tokens, b.tokens);
    // A batch of left-padded rows still decodes as each row alone.
    const rows = [prompt, prompt.slice(3)];
    const batch = rewritten.decoder.start(rows);
    const both = await batch.prefill();
    const alone = await rewritten.decoder.start([rows[1]]).prefill();
    const vocab = rewritten.decoder.shape.vocabSize;
    const second = both.subarray(vocab, 2 * vocab);
    assert.ok(second.every((v, i) => Math.abs(v - alone[i]) <= 1e-4 * scale));
  });
}

test('a q4 file gets its accuracy level and the graph rewrites in one streamed copy', async () => {
  const dir = join(work, 'q4');
  cpSync(await ensureLlmModel(TINY_LLM), dir, { recursive: true });
  quantizeFile(join(dir, 'onnx/model.onnx'), join(dir, 'onnx/model_q4.onnx'), { to: 'q4', accuracyLevel: 0 });
  const out = join(work, 'q4-rewritten.onnx');
  rewriteGraphNodes(join(dir, 'onnx/model_q4.onnx'), out, (g) => rewriteDecoderGraph(g, { accuracyLevel: 4, lastLogits: true }));
  const levels = (decodeModel(readFileSync(out)).graph?.node ?? []).filter((n) => n.opType === 'MatMulNBits').map((n) => Number(n.attribute?.find((a) => a.name === 'accuracy_level')?.i));
  assert.ok(levels.length > 0 && levels.every((l) => l === 4));
  const [rewritten, plain] = await Promise.all([OnnxChatModel.load(dir, { variant: 'q4' }), OnnxChatModel.load(dir, { variant: 'q4', graphRewrites: false })]);
  const [a, b] = await Promise.all([rewritten, plain].map((m) => m.chat(MESSAGES, { temperature: 0, maxTokens: 12 })));
  assert.deepEqual(a.tokens, b.tokens);
  // Both copies were written beside the model (its folder is writable: the same file system) and are gone.
  assert.deepEqual(readdirSync(join(dir, 'onnx')).filter((name) => name.startsWith('.moxing-load-')), []);
});

test('a model with its weights in a `_data` companion is rewritten too: the copy reads the original data file', async () => {
  const dir = join(work, 'external');
  cpSync(await ensureLlmModel(TINY_LLM), dir, { recursive: true });
  const model = decodeModel(readFileSync(join(dir, 'onnx/model.onnx')));
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of model.graph?.initializer ?? []) {
    const data = Buffer.from(t.rawData ?? new Uint8Array(0));
    if (data.length < 1024) continue;
    t.externalData = [{ key: 'location', value: 'model.onnx_data' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(data.length) }];
    t.dataLocation = 1; // EXTERNAL
    t.rawData = new Uint8Array(0);
    chunks.push(data);
    offset += data.length;
  }
  writeFileSync(join(dir, 'onnx/model.onnx_data'), Buffer.concat(chunks));
  writeFileSync(join(dir, 'onnx/model.onnx'), encodeModel(model));
  const [rewritten, plain] = await Promise.all([OnnxChatModel.load(dir), OnnxChatModel.load(dir, { graphRewrites: false })]);
  const [a, b] = await Promise.all([rewritten, plain].map((m) => m.chat(MESSAGES, { temperature: 0, maxTokens: 12 })));
  assert.deepEqual(a.tokens, b.tokens);
  assert.equal(a.tokens.length, 12);
});

test('the weights can move to an aligned side file: the rewritten .onnx holds only the graph and loads to the same logits', async () => {
  const dir = await ensureLlmModel(TINY_LLM);
  const path = join(dir, 'onnx/model.onnx');
  const folder = mkdtempSync(join(work, 'side-'));
  const [inline, external] = [join(folder, 'inline.onnx'), join(folder, 'external.onnx')];
  const edit = (g: Parameters<Parameters<typeof rewriteGraphNodes>[2]>[0]) => rewriteDecoderGraph(g, { lastLogits: true });
  rewriteGraphNodes(path, inline, edit);
  rewriteGraphNodes(path, external, edit, { externalData: { file: `${external}.data`, minBytes: 1024 } });
  const small = readFileSync(external).length;
  assert.ok(small < readFileSync(inline).length / 4, `the graph file is ${small} bytes`);
  const moved = (decodeModel(readFileSync(external)).graph?.initializer ?? []).filter((t) => t.dataLocation === 1);
  assert.ok(moved.length > 0);
  for (const t of moved) assert.equal(Number(t.externalData?.find((e) => e.key === 'offset')?.value) % 65536, 0);
  const { loadSession } = await import('../../src/runtime/index.js');
  const reference = await OnnxChatModel.load(dir);
  const prompt = reference.promptIds(MESSAGES);
  const logits = async (file: string) => new OnnxDecoder(await loadSession(file), reference.decoder.shape, reference.decoder.padId).start([prompt]).prefill();
  assert.deepEqual(await logits(external), await logits(inline));
});

test('a tied head reads the embedding under an alias in the side file, the largest matmul goes first: the logits are bit for bit those of the plain rewrite', async () => {
  const spec = { ...TINY_LLM, tied: true, name: 'llama-tiny-tied' };
  const dir = await ensureLlmModel(spec);
  const path = join(dir, 'onnx/model.onnx');
  const folder = mkdtempSync(join(work, 'alias-'));
  const [plain, reordered, aliased] = ['plain', 'reordered', 'aliased'].map((name) => join(folder, `${name}.onnx`));
  const rewrites = { lastLogits: true, tiedHead: true };
  rewriteGraphNodes(path, plain, (g) => rewriteDecoderGraph(g, rewrites), { externalData: { file: `${plain}.data`, minBytes: 1024 } });
  // Without a side file there is nothing to alias: the head reads the table by its own name.
  rewriteGraphNodes(path, reordered, (g) => rewriteDecoderGraph(g, { ...rewrites, largestWeightFirst: true }));
  rewriteGraphNodes(path, aliased, (g) => rewriteDecoderGraph(g, { ...rewrites, largestWeightFirst: true }), { externalData: { file: `${aliased}.data`, minBytes: 1024 } });
  const table = 'model.embed_tokens.weight';
  for (const [file, alias] of [[reordered, false], [aliased, true]] as const) {
    const graph = decodeModel(readFileSync(file)).graph!;
    const head = graph.node!.find((n) => n.opType === 'FusedMatMul')!;
    assert.equal(graph.node![0], head, 'the head, the largest weight, is the first node');
    assert.equal(head.input![1] !== table, alias);
    const location = (name: string) => {
      const t = graph.initializer!.find((x) => x.name === name)!;
      return ['location', 'offset', 'length'].map((key) => t.externalData?.find((e) => e.key === key)?.value);
    };
    if (alias) assert.deepEqual(location(head.input![1]), location(table), 'the alias points at the same bytes');
    assert.ok(graph.node!.some((n) => n.opType === 'Gather' && n.input![0] === table), 'the embedding lookup keeps the table');
  }
  const { loadSession } = await import('../../src/runtime/index.js');
  const reference = await OnnxChatModel.load(dir);
  const prompt = reference.promptIds(MESSAGES);
  const logits = async (file: string) => new OnnxDecoder(await loadSession(file), reference.decoder.shape, reference.decoder.padId).start([prompt]).prefill();
  const expected = await logits(plain);
  assert.deepEqual(await logits(aliased), expected);
  assert.deepEqual(await logits(reordered), expected);
});

test('rotary fusion: rotate_half and the per-step cos/sin become RotaryEmbedding over folded tables; logits move by float rounding only, greedy tokens and a left-padded batch stay', async () => {
  const dir = await ensureLlmModel(TINY_LLM);
  const path = join(dir, 'onnx/model.onnx');
  const [plain, fused] = ['rotary-plain', 'rotary-fused'].map((name) => join(work, `${name}.onnx`));
  const heads = { heads: TINY_LLM.heads, kvHeads: TINY_LLM.kvHeads };
  const rewrites = { lastLogits: true, groupedAttention: heads, cacheOutside: true };
  assert.ok(rewriteGraphNodes(path, plain, (g) => rewriteDecoderGraph(g, rewrites)));
  assert.ok(rewriteGraphNodes(path, fused, (g) => rewriteDecoderGraph(g, { ...rewrites, fuseRotary: { maxPositions: 2048 } })));
  const [before, afterwards] = [opCounts(plain), opCounts(fused)];
  assert.equal(afterwards.get('RotaryEmbedding'), 2 * TINY_LLM.layers, 'queries and keys of every layer');
  assert.equal(afterwards.get('Neg') ?? 0, 0);
  assert.equal((before.get('Neg') ?? 0) - (afterwards.get('Neg') ?? 0), 2 * TINY_LLM.layers);
  // The only Cos and Sin left make the tables (from constants: ORT folds them at load).
  assert.equal(afterwards.get('Cos'), 1);
  assert.equal(afterwards.get('Sin'), 1);

  // A context whose tables would outweigh what they save keeps the graph's own rotary operators.
  const headDim = TINY_LLM.hidden / TINY_LLM.heads;
  const tooLong = MAX_ROTARY_TABLE_BYTES / (headDim * 4) + 1;
  rewriteGraphNodes(path, join(work, 'rotary-long.onnx'), (g) => rewriteDecoderGraph(g, { ...rewrites, fuseRotary: { maxPositions: tooLong } }));
  assert.equal(opCounts(join(work, 'rotary-long.onnx')).get('RotaryEmbedding') ?? 0, 0);

  const { loadSession } = await import('../../src/runtime/index.js');
  const reference = await OnnxChatModel.load(dir, { graphRewrites: false });
  const decoder = async (file: string) => new OnnxDecoder(await loadSession(file), reference.decoder.shape, reference.decoder.padId);
  const [a, b] = await Promise.all([decoder(plain), decoder(fused)]);
  const prompt = reference.promptIds(MESSAGES);
  const rows = [prompt, prompt.slice(5)];
  const [x, y] = await Promise.all([a, b].map((d) => d.start(rows).prefill()));
  const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const diff = x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
  assert.ok(diff <= 1e-5 * scale, `the fusion moved the logits by ${diff} on a scale of ${scale}`);
  // Greedy decoding over many positions (the tables are read at each step's own position).
  const greedy = async (d: OnnxDecoder) => {
    const state = d.start([prompt]);
    let logits = await state.prefill();
    const out: number[] = [];
    for (let i = 0; i < 24; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      out.push(best);
      logits = await state.feed([[best]]);
    }
    return out;
  };
  assert.deepEqual(await greedy(b), await greedy(a));
});
