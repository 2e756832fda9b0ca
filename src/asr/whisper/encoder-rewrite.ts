/**
 * A load-time rewrite of the Whisper encoder: each self-attention, as the exports spell it (Q, K and V reshaped to
 * heads and transposed, Q·Kᵀ, Softmax, ·V, transposed and reshaped back), becomes one com.microsoft
 * MultiHeadAttention. Without a mask, bias or past, ORT's CPU kernel for it runs flash attention: blocks of the
 * scores stay in cache and the 1500 × 1500 score matrix per head is never written out (8 heads × 6 layers on
 * base), and the transposes around it (five per layer) go too. The products are the same; the softmax is summed block by block,
 * so the output moves by float rounding (about 1e-5 on base). The query's scale (a Mul by 1/√Dh before the
 * reshape) moves into the operator's `scale`. Quantized encoders match too: their projections
 * (DynamicQuantizeLinear / MatMulInteger) sit outside the pattern, and their attention products are float MatMuls.
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { RuntimeOptions } from '../../runtime/index.js';
import { constantInts, nodeProducers, nodeReaders, onnx, pruneUnused, type NodeProto } from '../../runtime/onnx/index.js';
import { loadWithSpeedUp } from '../../runtime/onnx/rewritten-session.js';
import type { GraphView } from '../../runtime/onnx/stream-rewrite.js';

const INT = onnx.AttributeProto.AttributeType.INT;
const FLOAT = onnx.AttributeProto.AttributeType.FLOAT;
const DT = onnx.TensorProto.DataType;

/** [B, S, H, Dh] ↔ [B, H, S, Dh]. */
const TO_HEADS = '0,2,1,3';

interface Nodes {
  readonly made: ReadonlyMap<string, NodeProto>;
  readonly readers: ReadonlyMap<string, readonly NodeProto[]>;
  readonly outputs: ReadonlySet<string>;
}

function attribute(n: NodeProto | undefined, name: string): NonNullable<NodeProto['attribute']>[number] | undefined {
  return n?.attribute?.find((a) => a.name === name);
}

function perm(n: NodeProto | undefined): string | undefined {
  return attribute(n, 'perm')?.ints?.map(Number).join();
}

/** The value of a scalar float32 Constant node's output. */
function constantFloat(value: string, nodes: Nodes): number | undefined {
  const n = nodes.made.get(value);
  const t = n?.opType === 'Constant' ? attribute(n, 'value')?.t : undefined;
  if (t?.dataType !== DT.FLOAT || (t.dims ?? []).reduce((a, d) => a * Number(d), 1) !== 1) return undefined;
  if (t.rawData && t.rawData.length === 4) return Buffer.from(t.rawData).readFloatLE(0);
  return t.floatData?.[0];
}

/**
 * The one node that reads `value`, when it is of type `op` and `value` is not a graph output. Shape readers are
 * let be: older exports take the merged shape from the context's Shape, which goes with the reshape it feeds (a
 * Shape left reading a removed value fails the final check).
 */
function onlyReader(value: string | undefined, op: string, nodes: Nodes): NodeProto | undefined {
  const r = (nodes.readers.get(value ?? '') ?? []).filter((n) => n.opType !== 'Shape');
  return r.length === 1 && r[0].opType === op && !nodes.outputs.has(value ?? '') ? r[0] : undefined;
}

/** The producer of `value`, of type `op`, when `value` feeds only the node that asks (an intermediate of the pattern). */
function producerOnlyFeeding(value: string | undefined, op: string, nodes: Nodes): NodeProto | undefined {
  const n = nodes.made.get(value ?? '');
  return n?.opType === op && (nodes.readers.get(value ?? '') ?? []).length === 1 && !nodes.outputs.has(value ?? '') ? n : undefined;
}

/**
 * The heads of a Reshape to [B, S, H, Dh]: its shape a Constant [b, s, H, Dh] (optimum's exports) or a Concat of
 * four parts whose third is a Constant (older exports, which compute the batch size from Shape).
 */
function headsOfReshape(reshape: NodeProto, nodes: Nodes): number | undefined {
  const shape = reshape.input?.[1] ?? '';
  const whole = constantInts(nodes.made.get(shape));
  if (whole) return whole.length === 4 && whole[2] > 0 && whole[3] > 0 ? whole[2] : undefined;
  const concat = nodes.made.get(shape);
  if (concat?.opType !== 'Concat' || (concat.input ?? []).length !== 4) return undefined;
  const [heads] = constantInts(nodes.made.get(concat.input?.[2] ?? '')) ?? [];
  const [headDim] = constantInts(nodes.made.get(concat.input?.[3] ?? '')) ?? [];
  return heads > 0 && headDim > 0 ? heads : undefined;
}

/** A Reshape to [B, S, D] (three dims), the merge of the heads back. */
function mergesHeads(reshape: NodeProto, nodes: Nodes): boolean {
  const shape = reshape.input?.[1] ?? '';
  const whole = constantInts(nodes.made.get(shape));
  if (whole) return whole.length === 3;
  const concat = nodes.made.get(shape);
  return concat?.opType === 'Concat' && (concat.input ?? []).length === 3;
}

/** The [B, S, D] input and heads of `Transpose(Reshape(x, [B, S, H, Dh]), [0, 2, 1, 3])`. */
function splitHeads(transposed: string | undefined, nodes: Nodes): { input: string; heads: number; nodes: NodeProto[] } | undefined {
  const transpose = producerOnlyFeeding(transposed, 'Transpose', nodes);
  if (perm(transpose) !== TO_HEADS) return undefined;
  const reshape = producerOnlyFeeding(transpose?.input?.[0], 'Reshape', nodes);
  const heads = reshape && headsOfReshape(reshape, nodes);
  if (!reshape || !heads || !transpose) return undefined;
  return { input: reshape.input?.[0] ?? '', heads, nodes: [transpose, reshape] };
}

/** Kᵀ per head: `Transpose(split, [0, 1, 3, 2])` of the split heads, or `Transpose(Reshape(k), [0, 2, 3, 1])` in one. */
function splitKeysTransposed(value: string | undefined, nodes: Nodes): ReturnType<typeof splitHeads> {
  const transpose = producerOnlyFeeding(value, 'Transpose', nodes);
  if (!transpose) return undefined;
  if (perm(transpose) === '0,1,3,2') {
    const split = splitHeads(transpose.input?.[0], nodes);
    return split && { ...split, nodes: [transpose, ...split.nodes] };
  }
  if (perm(transpose) !== '0,2,3,1') return undefined;
  const reshape = producerOnlyFeeding(transpose.input?.[0], 'Reshape', nodes);
  const heads = reshape && headsOfReshape(reshape, nodes);
  return reshape && heads ? { input: reshape.input?.[0] ?? '', heads, nodes: [transpose, reshape] } : undefined;
}

/**
 * The query without its scale: `Mul(q, c)` with c a scalar Constant gives q and c (the Mul goes when nothing else
 * reads it: older exports read its Shape too, which then goes with the reshape it fed); anything else, itself and 1.
 */
function unscaledQuery(query: string, nodes: Nodes): { input: string; scale: number } {
  const mul = nodes.made.get(query);
  const [a, b] = mul?.opType === 'Mul' ? (mul.input ?? []) : [];
  for (const [value, constant] of [
    [a, b],
    [b, a],
  ]) {
    const scale = constantFloat(constant ?? '', nodes);
    if (value && scale !== undefined && scale > 0 && nodes.made.get(value)?.opType !== 'Constant') return { input: value, scale };
  }
  return { input: query, scale: 1 };
}

/** The MultiHeadAttention for the attention whose Softmax is `softmax`, and the nodes it replaces; undefined when the pattern differs. */
function fuseOne(softmax: NodeProto, nodes: Nodes): { fused: NodeProto; replaced: NodeProto[] } | undefined {
  const axis = Number(attribute(softmax, 'axis')?.i ?? -1);
  if (axis !== -1 && axis !== 3) return undefined;
  const scores = producerOnlyFeeding(softmax.input?.[0], 'MatMul', nodes);
  const context = onlyReader(softmax.output?.[0], 'MatMul', nodes);
  if (!scores || !context || context.input?.[0] !== softmax.output?.[0]) return undefined;
  const query = splitHeads(scores.input?.[0], nodes);
  const key = splitKeysTransposed(scores.input?.[1], nodes);
  const value = splitHeads(context.input?.[1], nodes);
  const merged = onlyReader(context.output?.[0], 'Transpose', nodes);
  const out = onlyReader(merged?.output?.[0], 'Reshape', nodes);
  if (!query || !key || !value || !merged || !out || perm(merged) !== TO_HEADS || !mergesHeads(out, nodes)) return undefined;
  if (query.heads !== key.heads || query.heads !== value.heads) return undefined;
  const q = unscaledQuery(query.input, nodes);
  const fused = onnx.NodeProto.create({
    opType: 'MultiHeadAttention',
    domain: 'com.microsoft',
    name: `${out.name ?? 'attention'}_fused`,
    input: [q.input, key.input, value.input],
    output: [...(out.output ?? [])],
    attribute: [
      { name: 'num_heads', type: INT, i: query.heads },
      { name: 'scale', type: FLOAT, f: q.scale },
    ],
  });
  return { fused, replaced: [...query.nodes, ...key.nodes, ...value.nodes, scores, softmax, context, merged, out] };
}

/**
 * The encoder's nodes with each self-attention fused (undefined when none matches, or when the graph holds
 * float16 weights: ORT's CPU MultiHeadAttention is float32 only).
 */
export function fuseEncoderAttention(graph: GraphView): NodeProto[] | undefined {
  if ([...graph.initializers.values()].some((t) => t.dataType === DT.FLOAT16 || t.dataType === DT.BFLOAT16)) return undefined;
  const nodes: Nodes = { made: nodeProducers(graph.nodes), readers: nodeReaders(graph.nodes), outputs: new Set(graph.outputs) };
  const replacedBy = new Map<NodeProto, NodeProto>();
  const dropped = new Set<NodeProto>();
  for (const softmax of graph.nodes) {
    if (softmax.opType !== 'Softmax') continue;
    const match = fuseOne(softmax, nodes);
    if (!match) continue;
    // The fused node takes the place of the last node it replaces: every input it reads is computed before it.
    const last = match.replaced[match.replaced.length - 1];
    for (const n of match.replaced) dropped.add(n);
    replacedBy.set(last, match.fused);
  }
  if (replacedBy.size === 0) return undefined;
  const rewritten = graph.nodes.flatMap((n) => (replacedBy.has(n) ? [replacedBy.get(n) as NodeProto] : dropped.has(n) ? [] : [n]));
  // The shapes of the reshapes that went (Constants, or Shape-Gather-Concat chains) are read by nothing now.
  const pruned = pruneUnused(rewritten, graph.outputs);
  return readsOnlyDefined(pruned, graph) ? pruned : undefined;
}

/** Whether every input of `nodes` is a graph input, an initializer or a node's output (nothing reads a removed value). */
function readsOnlyDefined(nodes: readonly NodeProto[], graph: GraphView): boolean {
  const defined = new Set(['', ...graph.inputs, ...graph.initializers.keys(), ...nodes.flatMap((n) => n.output ?? [])]);
  return nodes.every((n) => (n.input ?? []).every((i) => defined.has(i)));
}

/**
 * The encoder's session: its attention fused (`rewrite`), or the file as exported (also when ORT refuses the fused
 * copy: the fusion is only a speed-up).
 */
export function loadWhisperEncoder(path: string, rewrite: boolean, runtime?: RuntimeOptions): Promise<InferenceSession> {
  return loadWithSpeedUp(path, rewrite, 'fused-attention', fuseEncoderAttention, runtime);
}
