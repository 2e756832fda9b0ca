/**
 * Load-time rewrites of a decoder-only LLM graph, made on a streamed copy of the file (runtime/onnx/stream-rewrite):
 * - `accuracyLevel`: every MatMulNBits (subgraphs included) at this accuracy_level: q4 files at level 4 have ORT
 *   quantize the activations to int8 and run integer kernels on the same 4-bit weights (1.2-1.8x the decode speed
 *   of level 0 on CPU; bench/chat.ts measures it and the logit change).
 * - `lastLogits`: the LM head reads only the last position (a Slice before it), when the graph has no
 *   `num_logits_to_keep`: a prefill of T tokens then computes and returns one row of logits, not T (the engine
 *   only ever reads the last), which saves the head's T × vocab work and its logits buffer. Exact: the head is
 *   per position.
 * - `tiedHead`: `MatMul(x, Transpose(embedding))` becomes `FusedMatMul(x, embedding, transB=1)`, so ORT does not
 *   fold the transpose into a second copy of the embedding table (545 MB at Qwen2.5-0.5B's size).
 * - `groupedAttention`: llama's repeat_kv (`Reshape(Tile|Expand(Unsqueeze(kv, 2)))`, the KV heads copied `rep`
 *   times at every step) becomes a reshape of the queries to [B, kv_heads, rep·T, Dh], so each step multiplies
 *   by the cache as it is instead of copying it `rep` times.
 *   When the table is also the embedding (a Gather reads it), the head reads it under a second name (an alias of
 *   the same bytes in the side file): ORT prepacks the head's copy and unmaps it, and the Gather's own mapping keeps
 *   only the rows it reads, where one shared initializer stayed wholly resident beside its packed copy (545 MB).
 * - `largestWeightFirst`: the node with the largest matmul weight goes first in the node list. ORT prepacks
 *   constant weights in node order and unmaps each mapped original once packed; the largest original (the LM head)
 *   is then resident while few packed copies exist, not on top of all of them (65 MB less peak memory for a 0.5B
 *   q4 model). The order of the file's nodes does not change the computation (ORT sorts the graph).
 * - `fuseRmsNorm`: the RMSNorm operators (six per norm, which ORT does not fuse when the square is a Mul) become
 *   ORT's SimplifiedLayerNormalization: 49 norms of a 24-layer model are 294 fewer operators per step. ORT's kernel
 *   sums in another order: the logits move by float rounding.
 * - `fuseRotary`: llama's rotate_half rotary embedding (`x·cos + Concat(-x₂, x₁)·sin`, six operators each for the
 *   queries and the keys of every layer, with cos and sin computed from `position_ids` at every step) becomes ORT's
 *   com.microsoft RotaryEmbedding reading cos/sin tables of the model's positions. The tables are built in the
 *   graph from constants by the same Cast, Mul, Cos and Sin as the per-step angles, so ORT folds them once at load;
 *   the kernel's own multiply-add order moves the rotated values by float rounding. 240 fewer operators a step on a
 *   24-layer model.
 * - `cacheOutside`: the KV cache stays in the decoder's buffers (runtime/onnx/cache-outside.ts, told by a
 *   `cache_length` input): the session reads the past inputs in place and each present is only the step's new
 *   positions, where onnxruntime-node copied the whole cache out at every token (20-60 MB of fresh pages a step at
 *   a long context). Exact: the same values are computed.
 * Each returns the nodes unchanged where its pattern is not found.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import type { RuntimeOptions } from '../runtime/index.js';
import { constantInts, intAttr, intsConstant, nodeProducers, nodeReaders, onnx, pruneUnused, type NodeProto } from '../runtime/onnx/index.js';
import { keepCacheOutside } from '../runtime/onnx/cache-outside.js';
import { loadRewrittenModel } from '../runtime/onnx/rewritten-session.js';
import type { GraphView } from '../runtime/onnx/stream-rewrite.js';

export interface GraphRewrites {
  accuracyLevel?: number;
  lastLogits?: boolean;
  tiedHead?: boolean;
  /** RMSNorm subgraphs (x·x → ReduceMean → +ε → Sqrt → Reciprocal → ·x → ·weight) as one SimplifiedLayerNormalization. */
  fuseRmsNorm?: boolean;
  /** Attention heads and KV heads of the model, for `groupedAttention`. */
  groupedAttention?: { heads: number; kvHeads: number };
  largestWeightFirst?: boolean;
  /** rotate_half rotary embeddings as RotaryEmbedding over cos/sin tables of `maxPositions` positions. */
  fuseRotary?: { maxPositions: number };
  /** The KV cache kept by the caller (runtime/onnx/cache-outside.ts): the presents are only a step's new positions. */
  cacheOutside?: boolean;
}

const CHAT_PAST = /^past_key_values\.\d+\.(key|value)$/;

const INTS = onnx.AttributeProto.AttributeType.INTS;
const INT = onnx.AttributeProto.AttributeType.INT;

function ints(name: string, values: readonly number[]): NonNullable<NodeProto['attribute']>[number] {
  return { name, type: INTS, ints: [...values] };
}

function intsOf(n: NodeProto | undefined, name: string): number[] | undefined {
  const a = n?.attribute?.find((x) => x.name === name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}

/** Nodes with rewrites applied (undefined when none changed anything). */
export function rewriteDecoderGraph(graph: GraphView, rewrites: GraphRewrites): NodeProto[] | undefined {
  let nodes = [...graph.nodes];
  let changed = false;
  if (rewrites.accuracyLevel !== undefined) changed = setAccuracyLevel(nodes, checkAccuracyLevel(rewrites.accuracyLevel));
  const steps: Array<(nodes: NodeProto[]) => NodeProto[] | undefined> = [];
  if (rewrites.lastLogits && !graph.inputs.includes('num_logits_to_keep')) steps.push(lastLogits);
  if (rewrites.tiedHead) steps.push((n) => tiedHead(n, graph));
  if (rewrites.fuseRmsNorm) steps.push((n) => fuseRmsNorm(n, graph));
  if (rewrites.groupedAttention) {
    const shape = rewrites.groupedAttention;
    steps.push((n) => groupedAttention(n, shape, graph.outputs));
  }
  if (rewrites.fuseRotary) {
    const { maxPositions } = rewrites.fuseRotary;
    steps.push((n) => fuseRotary(n, maxPositions, graph.outputs));
  }
  if (rewrites.largestWeightFirst) steps.push((n) => largestWeightFirst(n, graph));
  // Last: it renames the presents the steps before may look for.
  if (rewrites.cacheOutside) steps.push((n) => keepCacheOutside(graph, (name) => CHAT_PAST.test(name), n));
  for (const step of steps) {
    const next = step(nodes);
    if (next) [nodes, changed] = [next, true];
  }
  return changed ? nodes : undefined;
}

/** Bytes per element of the ONNX data types a weight has (1 for the byte types and any other). */
const ELEMENT_BYTES: Readonly<Record<number, number>> = { 1: 4, 6: 4, 7: 8, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };
/** Operators whose constant second input ORT's CPU kernels prepack. */
const PREPACKING = new Set(['MatMul', 'MatMulNBits', 'FusedMatMul', 'Gemm']);

function largestWeightFirst(nodes: NodeProto[], graph: GraphView): NodeProto[] | undefined {
  const bytes = (n: NodeProto) => {
    const weight = PREPACKING.has(n.opType ?? '') ? graph.initializers.get(n.input?.[1] ?? '') : undefined;
    return weight ? weight.dims.reduce((a, b) => a * b, 1) * (ELEMENT_BYTES[weight.dataType] ?? 1) : 0;
  };
  const largest = nodes.reduce((best, n) => (bytes(n) > bytes(best) ? n : best), nodes[0]);
  if (!largest || bytes(largest) === 0 || largest === nodes[0]) return undefined;
  return [largest, ...nodes.filter((n) => n !== largest)];
}

/** A MatMulNBits accuracy level: 0 to 4. */
export function checkAccuracyLevel(level: number): number {
  if (![0, 1, 2, 3, 4].includes(level)) throw new MoxingError('BAD_ARGUMENT', `the MatMulNBits accuracy level must be 0 to 4, got ${level}`);
  return level;
}

/** Every MatMulNBits of `nodes` and of their subgraphs (a merged decoder's If branches) at `level`; whether any changed. */
function setAccuracyLevel(nodes: readonly NodeProto[], level: number): boolean {
  let changed = false;
  for (const n of nodes) {
    for (const a of n.attribute ?? []) for (const g of [a.g, ...(a.graphs ?? [])]) if (g) changed = setAccuracyLevel(g.node ?? [], level) || changed;
    if (n.opType !== 'MatMulNBits') continue;
    const old = n.attribute?.find((a) => a.name === 'accuracy_level');
    if (Number(old?.i ?? 0) === level) continue;
    n.attribute = [...(n.attribute ?? []).filter((a) => a !== old), { name: 'accuracy_level', type: INT, i: level }];
    changed = true;
  }
  return changed;
}

/** `added` inserted just before `at` in `nodes`. */
function insertBefore(nodes: readonly NodeProto[], at: NodeProto, added: readonly NodeProto[]): NodeProto[] {
  const i = nodes.indexOf(at);
  return [...nodes.slice(0, i), ...added, ...nodes.slice(i)];
}

/** The head reads the last position only. */
function lastLogits(nodes: NodeProto[]): NodeProto[] | undefined {
  const made = nodeProducers(nodes);
  let head = made.get('logits');
  while (head?.opType === 'Cast' || head?.opType === 'Identity') head = made.get(head.input?.[0] ?? '');
  if (!head || !['MatMul', 'MatMulNBits', 'FusedMatMul'].includes(head.opType ?? '')) return undefined;
  const input = head.input?.[0] ?? '';
  const [starts, ends, axes, last] = ['starts', 'ends', 'axes', 'hidden'].map((s) => `moxing_last_position_${s}`);
  const slice = onnx.NodeProto.create({ opType: 'Slice', input: [input, starts, ends, axes], output: [last], name: 'moxing_last_position' });
  head.input = [last, ...(head.input ?? []).slice(1)];
  return insertBefore(nodes, head, [intsConstant(starts, [-1]), intsConstant(ends, [2 ** 31 - 1]), intsConstant(axes, [1]), slice]);
}

/** `MatMul(x, Transpose(E, [1, 0]))` with E a 2-D initializer → `FusedMatMul(x, E, transB=1)`. */
function tiedHead(nodes: NodeProto[], graph: GraphView): NodeProto[] | undefined {
  const made = nodeProducers(nodes);
  const readers = nodeReaders(nodes);
  let changed = false;
  for (const n of nodes) {
    if (n.opType !== 'MatMul') continue;
    const t = made.get(n.input?.[1] ?? '');
    const table = t?.input?.[0] ?? '';
    if (t?.opType !== 'Transpose' || graph.initializers.get(table)?.dims.length !== 2) continue;
    const perm = intsOf(t, 'perm');
    if (perm && (perm[0] !== 1 || perm[1] !== 0)) continue;
    n.opType = 'FusedMatMul';
    n.domain = 'com.microsoft';
    const shared = (readers.get(table) ?? []).some((r) => r !== t);
    n.input = [n.input?.[0] ?? '', shared ? graph.alias(table) : table];
    n.attribute = [{ name: 'transB', type: INT, i: 1 }, { name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 }];
    changed = true;
    if ((readers.get(t.output?.[0] ?? '') ?? []).length === 1) nodes = nodes.filter((x) => x !== t);
  }
  return changed ? nodes : undefined;
}

/**
 * The cache `kv` [B, kv, S, Dh] when `value` is llama's repeat_kv of it: Reshape(Tile(Unsqueeze(kv, [2]), [1, 1,
 * rep, 1, 1])) or the same with Expand.
 */
function repeatedKv(value: string, made: Map<string, NodeProto>): string | undefined {
  const reshape = made.get(value);
  if (reshape?.opType !== 'Reshape') return undefined;
  const copy = made.get(reshape.input?.[0] ?? '');
  if (copy?.opType !== 'Tile' && copy?.opType !== 'Expand') return undefined;
  const unsqueeze = made.get(copy.input?.[0] ?? '');
  if (unsqueeze?.opType !== 'Unsqueeze') return undefined;
  const axes = made.get(unsqueeze.input?.[1] ?? '');
  const axis = intsOf(axes, 'value_ints') ?? intsOf(unsqueeze, 'axes');
  // The axes input may be an initializer (not visible here): the Reshape after a Tile/Expand of an Unsqueeze is
  // repeat_kv's own shape, which is enough to recognise it.
  if (axis && (axis.length !== 1 || axis[0] !== 2)) return undefined;
  return unsqueeze.input?.[0];
}

function groupedAttention(nodes: NodeProto[], shape: { heads: number; kvHeads: number }, outputs: readonly string[]): NodeProto[] | undefined {
  const { heads, kvHeads } = shape;
  if (heads === kvHeads || heads % kvHeads !== 0) return undefined;
  const made = nodeProducers(nodes);
  let out = nodes;
  let count = 0;
  for (const matmul of nodes) {
    if (matmul.opType !== 'MatMul') continue;
    const [a, b] = matmul.input ?? [];
    // Scores: MatMul(q, Transpose(repeat_kv(K), [0, 1, 3, 2])); context: MatMul(probs, repeat_kv(V)).
    const transpose = made.get(b);
    const isScores = transpose?.opType === 'Transpose' && intsOf(transpose, 'perm')?.join() === '0,1,3,2';
    const kv = repeatedKv(isScores ? (transpose.input?.[0] ?? '') : b, made);
    if (!kv) continue;
    const base = `moxing_gqa_${count++}`;
    const name = (s: string) => `${base}_${s}`;
    // [B, H, T, X] ↔ [B, kv, rep·T, X]: the heads of one KV group are contiguous.
    const added: NodeProto[] = [intsConstant(name('grouped'), [0, kvHeads, -1, 0]), intsConstant(name('heads'), [0, heads, -1, 0])];
    added.push(onnx.NodeProto.create({ opType: 'Reshape', input: [a, name('grouped')], output: [name('a')], name: name('a') }));
    let right = kv;
    if (isScores) {
      added.push(onnx.NodeProto.create({ opType: 'Transpose', input: [kv], output: [name('kT')], name: name('kT'), attribute: [ints('perm', [0, 1, 3, 2])] }));
      right = name('kT');
    }
    added.push(onnx.NodeProto.create({ opType: 'MatMul', input: [name('a'), right], output: [name('product')], name: name('product') }));
    const result = onnx.NodeProto.create({ opType: 'Reshape', input: [name('product'), name('heads')], output: [...(matmul.output ?? [])], name: matmul.name ?? name('out') });
    const at = out.indexOf(matmul);
    out = [...out.slice(0, at), ...added, result, ...out.slice(at + 1)];
  }
  return count > 0 ? pruneUnused(out, outputs) : undefined;
}

/** The float value of a scalar Constant node's output. */
function scalarConstant(value: string, made: Map<string, NodeProto>): number | undefined {
  const n = made.get(value);
  const t = n?.opType === 'Constant' ? n.attribute?.find((a) => a.name === 'value')?.t : undefined;
  if (!t || t.dataType !== onnx.TensorProto.DataType.FLOAT || (t.dims ?? []).reduce((a, d) => a * Number(d), 1) !== 1) return undefined;
  if (t.rawData && t.rawData.length === 4) return Buffer.from(t.rawData).readFloatLE(0);
  return t.floatData?.[0];
}

function fuseRmsNorm(nodes: NodeProto[], graph: GraphView): NodeProto[] | undefined {
  const made = nodeProducers(nodes);
  const readers = nodeReaders(nodes);
  const only = (value: string, op: string): NodeProto | undefined => {
    const r = readers.get(value) ?? [];
    return r.length === 1 && r[0].opType === op && !graph.outputs.includes(value) ? r[0] : undefined;
  };
  const other = (n: NodeProto, value: string) => (n.input?.[0] === value ? n.input?.[1] : n.input?.[0]) ?? '';
  const replaced = new Map<NodeProto, NodeProto>();
  const dropped = new Set<NodeProto>();
  for (const mean of nodes) {
    if (mean.opType !== 'ReduceMean' || intsOf(mean, 'axes')?.join() !== '-1' || (mean.input ?? []).length !== 1) continue;
    const keep = mean.attribute?.find((a) => a.name === 'keepdims');
    if (keep && Number(keep.i) !== 1) continue;
    const square = made.get(mean.input?.[0] ?? '');
    const x = square?.input?.[0] ?? '';
    if (square?.opType !== 'Mul' || square.input?.[1] !== x || (readers.get(square.output?.[0] ?? '') ?? []).length !== 1) continue;
    const add = only(mean.output?.[0] ?? '', 'Add');
    const epsilon = add && scalarConstant(other(add, mean.output?.[0] ?? ''), made);
    const sqrt = add && only(add.output?.[0] ?? '', 'Sqrt');
    const inverse = sqrt && only(sqrt.output?.[0] ?? '', 'Reciprocal');
    const scaled = inverse && only(inverse.output?.[0] ?? '', 'Mul');
    if (!add || epsilon === undefined || !scaled || other(scaled, inverse.output?.[0] ?? '') !== x) continue;
    const weighted = only(scaled.output?.[0] ?? '', 'Mul');
    const weight = weighted && other(weighted, scaled.output?.[0] ?? '');
    if (!weighted || !weight || graph.initializers.get(weight)?.dims.length !== 1) continue;
    const fused = onnx.NodeProto.create({
      opType: 'SimplifiedLayerNormalization',
      input: [x, weight],
      output: [...(weighted.output ?? [])],
      name: `${weighted.name ?? 'rms'}_fused`,
      attribute: [{ name: 'axis', type: INT, i: -1 }, { name: 'epsilon', type: onnx.AttributeProto.AttributeType.FLOAT, f: epsilon }, { name: 'stash_type', type: INT, i: 1 }],
    });
    replaced.set(weighted, fused);
    for (const n of [square, mean, add, sqrt, inverse, scaled]) dropped.add(n);
  }
  if (replaced.size === 0) return undefined;
  return nodes.filter((n) => !dropped.has(n)).map((n) => replaced.get(n) ?? n);
}

/**
 * The angles of llama's rotary embedding: `Unsqueeze(Concat(f, f, axis -1), [1])` with
 * `f = Mul(Unsqueeze(Cast(position_ids), [2]), inverse frequencies)`; the nodes that make `f` from the positions.
 */
function rotaryAngles(angles: string, made: Map<string, NodeProto>): { cast: NodeProto; frequencies: string; halfDim: number } | undefined {
  const unsqueeze = made.get(angles);
  if (unsqueeze?.opType !== 'Unsqueeze' || constantInts(made.get(unsqueeze.input?.[1] ?? ''))?.join() !== '1') return undefined;
  const concat = made.get(unsqueeze.input?.[0] ?? '');
  const [f, g] = concat?.input ?? [];
  if (concat?.opType !== 'Concat' || concat.input?.length !== 2 || f !== g || ![-1, 2].includes(intAttr(concat, 'axis') ?? 0)) return undefined;
  const mul = made.get(f);
  const [positions, frequencies] = mul?.input ?? [];
  const inner = made.get(positions);
  if (mul?.opType !== 'Mul' || inner?.opType !== 'Unsqueeze' || constantInts(made.get(inner.input?.[1] ?? ''))?.join() !== '2') return undefined;
  const cast = made.get(inner.input?.[0] ?? '');
  if (cast?.opType !== 'Cast' || cast.input?.[0] !== 'position_ids') return undefined;
  const table = made.get(frequencies);
  const t = table?.opType === 'Constant' ? table.attribute?.find((a) => a.name === 'value')?.t : undefined;
  const dims = (t?.dims ?? []).map(Number);
  if (!t || t.dataType !== onnx.TensorProto.DataType.FLOAT || dims.length !== 1) return undefined;
  return { cast, frequencies, halfDim: dims[0] };
}

/**
 * `x` when `value` is rotate_half's `Concat(Neg(Slice(x, half, dim, axis 3)), Slice(x, 0, half, axis 3), axis 3)`
 * over a head width of 2·`half`.
 */
function rotatedHalf(value: string, half: number, made: Map<string, NodeProto>): string | undefined {
  const concat = made.get(value);
  if (concat?.opType !== 'Concat' || concat.input?.length !== 2 || ![3, -1].includes(intAttr(concat, 'axis') ?? 0)) return undefined;
  const neg = made.get(concat.input[0]);
  const second = made.get(neg?.opType === 'Neg' ? (neg.input?.[0] ?? '') : '');
  const first = made.get(concat.input[1]);
  const slice = (n: NodeProto | undefined, from: number, to: number) =>
    n?.opType === 'Slice' && n.input?.length === 4 && constantInts(made.get(n.input[1]))?.join() === String(from) && constantInts(made.get(n.input[2]))?.join() === String(to) && [3, -1].includes(constantInts(made.get(n.input[3]))?.[0] ?? 0) ? n.input[0] : undefined;
  const x = slice(first, 0, half);
  return x !== undefined && slice(second, half, 2 * half) === x ? x : undefined;
}

/** The most bytes `fuseRotary`'s cos and sin tables may take together (32,768 positions of a 128-wide head). */
export const MAX_ROTARY_TABLE_BYTES = 16 * 2 ** 20;

function fuseRotary(nodes: NodeProto[], maxPositions: number, outputs: readonly string[]): NodeProto[] | undefined {
  const made = nodeProducers(nodes);
  const replaced = new Map<NodeProto, NodeProto>();
  let tables: { cos: string; sin: string; nodes: NodeProto[] } | undefined;
  for (const add of nodes) {
    if (add.opType !== 'Add' || add.input?.length !== 2) continue;
    // Add(Mul(x, cos), Mul(rotate_half(x), sin)), each Mul's operands in either order.
    const [m1, m2] = add.input.map((v) => made.get(v));
    if (m1?.opType !== 'Mul' || m2?.opType !== 'Mul') continue;
    const cosOf = (m: NodeProto) => m.input?.map((v) => made.get(v)).find((n) => n?.opType === 'Cos');
    const sinOf = (m: NodeProto) => m.input?.map((v) => made.get(v)).find((n) => n?.opType === 'Sin');
    const cos = cosOf(m1);
    const sin = sinOf(m2);
    if (!cos || !sin || cos.input?.[0] !== sin.input?.[0]) continue;
    const angles = rotaryAngles(cos.input?.[0] ?? '', made);
    // The two float32 tables hold every position of the context: not for a context so long that they would weigh
    // more than the operators they save (131,072 positions of a 128-wide head are 64 MiB).
    if (!angles || maxPositions * angles.halfDim * 2 * 4 > MAX_ROTARY_TABLE_BYTES) continue;
    const x = m1.input?.find((v) => v !== cos.output?.[0]) ?? '';
    const rotated = m2.input?.find((v) => v !== sin.output?.[0]) ?? '';
    if (rotatedHalf(rotated, angles.halfDim, made) !== x) continue;
    if (!tables) {
      // The tables [positions, half]: the positions 0 … max-1 through the graph's own Cast and Mul, then Cos and Sin.
      const name = (s: string) => `moxing_rotary_${s}`;
      const scalar = (s: string, v: number) =>
        onnx.NodeProto.create({ opType: 'Constant', output: [name(s)], name: name(s), attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: { dataType: onnx.TensorProto.DataType.INT64, dims: [], int64Data: [v] } }] });
      const built = [
        scalar('start', 0),
        scalar('limit', maxPositions),
        scalar('delta', 1),
        intsConstant(name('column'), [1]),
        onnx.NodeProto.create({ opType: 'Range', input: [name('start'), name('limit'), name('delta')], output: [name('positions')], name: name('positions') }),
        onnx.NodeProto.create({ ...angles.cast, input: [name('positions')], output: [name('positions_float')], name: name('positions_float') }),
        onnx.NodeProto.create({ opType: 'Unsqueeze', input: [name('positions_float'), name('column')], output: [name('positions_column')], name: name('positions_column') }),
        onnx.NodeProto.create({ opType: 'Mul', input: [name('positions_column'), angles.frequencies], output: [name('angles')], name: name('angles') }),
        onnx.NodeProto.create({ opType: 'Cos', input: [name('angles')], output: [name('cos')], name: name('cos') }),
        onnx.NodeProto.create({ opType: 'Sin', input: [name('angles')], output: [name('sin')], name: name('sin') }),
      ];
      tables = { cos: name('cos'), sin: name('sin'), nodes: built };
    }
    replaced.set(
      add,
      onnx.NodeProto.create({
        opType: 'RotaryEmbedding',
        domain: 'com.microsoft',
        input: [x, 'position_ids', tables.cos, tables.sin],
        output: [...(add.output ?? [])],
        name: `${add.name ?? add.output?.[0]}_rotary`,
        attribute: [{ name: 'interleaved', type: INT, i: 0 }],
      }),
    );
  }
  if (!tables) return undefined;
  return pruneUnused([...tables.nodes, ...nodes.map((n) => replaced.get(n) ?? n)], outputs);
}

/**
 * A session of the decoder at `path` with `rewrites` applied on a streamed copy beside it (or in TMPDIR), removed once loaded (the
 * file itself when no rewrite applies or the copy cannot be made).
 */
export function loadRewrittenDecoder(path: string, rewrites: GraphRewrites, runtime?: RuntimeOptions): Promise<InferenceSession> {
  return loadRewrittenModel(path, JSON.stringify(rewrites), (graph) => rewriteDecoderGraph(graph, rewrites), runtime);
}
