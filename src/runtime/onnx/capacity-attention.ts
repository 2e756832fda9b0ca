/**
 * Attention over the cache's whole buffer: a load-time rewrite applied after cache-outside.ts, for a cached step
 * whose attention reads the Concat(Slice(past, 0, cache_length), new) that rewrite left.
 *
 * That Concat, and the Slice before it, each copy the live cache at every step (twice the cache's bytes written
 * and read again, per key and value, per layer), when the attention only needs to read it once. Rewritten, each
 * such attention `Softmax(Q·Kᵀ + mask)·V` reads the past input as fed, a buffer of `capacity` positions of which
 * the first `cache_length` hold the cache, and the new positions apart:
 * - scores over the buffer `Q·pastᵀ` (ORT reads the transposed buffer in place) plus the mask's past columns, its
 *   columns from `cache_length` to `capacity` (unused room) filled with the float32 lowest, so their weights are 0;
 * - scores over the new positions `Q·newᵀ` plus the mask's new columns;
 * - one Softmax over both, then `P_past·past + P_new·new`.
 * The live positions get the scores they had and the unused room weights of exactly 0, so the result is the same
 * up to float rounding (the softmax sums and the last matrix product add their terms in another order; greedy
 * tokens are unchanged in the tests), not bit for bit. Readers of the past's Shape get the live shape from
 * `cache_length` instead of the Slice, and the Slices go once nothing reads them.
 * Nothing changes unless every Concat of a live past is such an attention's key or value (in the main graph or
 * an If branch) and every other reader of a live past is a Shape: an attention of another form (a scale after
 * Q·Kᵀ, grouped heads, a float16 cache) leaves the graph as cache-outside.ts made it.
 */
import { CACHE_LENGTH } from './cache-outside.js';
import { nodeProducers, nodeReaders, pruneUnused } from './graph-index.js';
import { graphsOf, intAttr, intsAttr, intsConstant, node, onnx, scalarConstant, type NodeProto } from './proto.js';
import type { GraphView } from './stream-rewrite.js';

const LIVE = '/live';
/** The float32 lowest, as the exports' own masks use it. */
const MASK_MIN = -3.4028234663852886e38;
const PREFIX = 'capacity_attention';
const C = {
  zero: `${PREFIX}/zero`,
  minusOne: `${PREFIX}/minus_one`,
  end: `${PREFIX}/end`,
  two: `${PREFIX}/two`,
  three: `${PREFIX}/three`,
  four: `${PREFIX}/four`,
  lowest: `${PREFIX}/lowest`,
} as const;

/** One attention of the pattern: the nodes it replaces and what the new nodes read. */
interface Attention {
  readonly key: NodeProto;
  readonly value: NodeProto;
  readonly transpose: NodeProto;
  readonly scores: NodeProto;
  readonly masked: NodeProto;
  readonly softmax: NodeProto;
  readonly output: NodeProto;
  readonly query: string;
  readonly mask: string;
}

/** A one-output node named after its output. */
const op = (opType: string, inputs: readonly string[], output: string, attrs: Record<string, number | readonly number[]> = {}): NodeProto => node(opType, inputs, [output], output, attrs);

const isPerm0132 = (n: NodeProto): boolean => n.opType === 'Transpose' && intsAttr(n, 'perm')?.join() === '0,1,3,2';
const isLastAxis = (n: NodeProto): boolean => [undefined, -1, 3].includes(intAttr(n, 'axis'));

/** The attention whose key is `key` (a Concat of a live past), or undefined when its nodes are not the pattern. */
function attentionOf(key: NodeProto, readers: ReadonlyMap<string, NodeProto[]>, made: ReadonlyMap<string, NodeProto>, outputs: ReadonlySet<string>): Attention | undefined {
  const only = (value: string | undefined): NodeProto | undefined => {
    const r = value === undefined || outputs.has(value) ? [] : (readers.get(value) ?? []);
    return r.length === 1 ? r[0] : undefined;
  };
  const transpose = only(key.output?.[0]);
  if (!transpose || !isPerm0132(transpose)) return undefined;
  const scores = only(transpose.output?.[0]);
  if (scores?.opType !== 'MatMul' || scores.input?.[1] !== transpose.output?.[0]) return undefined;
  const masked = only(scores.output?.[0]);
  if (masked?.opType !== 'Add') return undefined;
  const mask = masked.input?.find((i) => i !== scores.output?.[0]);
  const softmax = only(masked.output?.[0]);
  if (!mask || softmax?.opType !== 'Softmax' || !isLastAxis(softmax)) return undefined;
  const output = only(softmax.output?.[0]);
  if (output?.opType !== 'MatMul' || output.input?.[0] !== softmax.output?.[0]) return undefined;
  const value = made.get(output.input?.[1] ?? '');
  if (value?.opType !== 'Concat' || !value.input?.[0]?.endsWith(LIVE) || only(value.output?.[0]) !== output) return undefined;
  return { key, value, transpose, scores, masked, softmax, output, query: scores.input?.[0] ?? '', mask };
}

/** The mask's past columns widened to the buffer, and its new columns: once per mask, shared by every layer. */
function maskNodes(mask: string, capacity: string): { nodes: NodeProto[]; past: string; added: string } {
  const at = (s: string) => `${mask}/${PREFIX}/${s}`;
  const nodes = [
    op('Shape', [mask], at('shape')),
    op('Slice', [at('shape'), C.zero, C.minusOne, C.zero], at('leading')),
    op('Sub', [capacity, CACHE_LENGTH], at('room')),
    op('Concat', [at('leading'), at('room')], at('room_shape'), { axis: 0 }),
    op('Expand', [C.lowest, at('room_shape')], at('room_mask')),
    op('Slice', [mask, C.zero, CACHE_LENGTH, C.minusOne], at('cached_columns')),
    op('Concat', [at('cached_columns'), at('room_mask')], at('past'), { axis: -1 }),
    op('Slice', [mask, CACHE_LENGTH, C.end, C.minusOne], at('added')),
  ];
  return { nodes, past: at('past'), added: at('added') };
}

/** The nodes computing `a.output`'s value over the buffer and the new positions apart. */
function attentionNodes(a: Attention, capacity: string, mask: { past: string; added: string }): NodeProto[] {
  const [livePastKey, addedKey] = a.key.input ?? [];
  const [livePastValue, addedValue] = a.value.input ?? [];
  const [pastKey, pastValue] = [livePastKey.slice(0, -LIVE.length), livePastValue.slice(0, -LIVE.length)];
  const at = (s: string) => `${a.output.name ?? a.output.output?.[0]}/${PREFIX}/${s}`;
  return [
    op('Transpose', [pastKey], at('past_key_t'), { perm: [0, 1, 3, 2] }),
    op('MatMul', [a.query, at('past_key_t')], at('past_scores')),
    op('Add', [at('past_scores'), mask.past], at('past_masked')),
    op('Transpose', [addedKey], at('added_key_t'), { perm: [0, 1, 3, 2] }),
    op('MatMul', [a.query, at('added_key_t')], at('added_scores')),
    op('Add', [at('added_scores'), mask.added], at('added_masked')),
    op('Concat', [at('past_masked'), at('added_masked')], at('scores'), { axis: -1 }),
    onnx.NodeProto.create({ ...a.softmax, name: at('weights'), input: [at('scores')], output: [at('weights')] }),
    op('Slice', [at('weights'), C.zero, capacity, C.minusOne], at('past_weights')),
    op('Slice', [at('weights'), capacity, C.end, C.minusOne], at('added_weights')),
    op('MatMul', [at('past_weights'), pastValue], at('past_out')),
    op('MatMul', [at('added_weights'), addedValue], at('added_out')),
    op('Add', [at('past_out'), at('added_out')], a.output.output?.[0] ?? ''),
  ];
}

/** `Shape(past/live)` as `Shape(past)` with its axis 2 replaced by `cache_length` (no Slice needed). */
function liveShapeNodes(shape: NodeProto): NodeProto[] {
  const past = (shape.input?.[0] ?? '').slice(0, -LIVE.length);
  const out = shape.output?.[0] ?? '';
  const at = (s: string) => `${out}/${PREFIX}/${s}`;
  return [
    op('Shape', [past], at('buffer')),
    op('Slice', [at('buffer'), C.zero, C.two, C.zero], at('head')),
    op('Slice', [at('buffer'), C.three, C.four, C.zero], at('tail')),
    op('Concat', [at('head'), CACHE_LENGTH, at('tail')], out, { axis: 0 }),
  ];
}

interface ListResult {
  readonly nodes: NodeProto[];
  readonly attentions: number;
}

/**
 * One graph's nodes rewritten, its subgraphs included; undefined when some live past is read other than by an
 * attention of the pattern or a Shape.
 */
function rewriteList(nodes: readonly NodeProto[], outputs: ReadonlySet<string>, capacity: string): ListResult | undefined {
  const readers = nodeReaders(nodes);
  const made = nodeProducers(nodes);
  // Every reader of a live past is a Shape, or a Concat that is the key or the value of an attention of the pattern.
  const liveConcats = new Set<NodeProto>();
  for (const n of nodes) {
    const liveInputs = (n.input ?? []).filter((i) => i.endsWith(LIVE));
    if (liveInputs.length === 0) continue;
    if (n.opType === 'Shape' && liveInputs.length === 1 && (n.attribute ?? []).length === 0) continue;
    if (n.opType !== 'Concat' || liveInputs.length !== 1 || n.input?.[0] !== liveInputs[0] || n.input.length !== 2) return undefined;
    liveConcats.add(n);
  }
  const attentions = [...liveConcats].map((n) => attentionOf(n, readers, made, outputs)).filter((a): a is Attention => a !== undefined);
  const replaced = new Set(attentions.flatMap((a) => [a.key, a.value, a.transpose, a.scores, a.masked, a.softmax, a.output]));
  if ([...liveConcats].some((n) => !replaced.has(n))) return undefined;
  const masks = new Map<string, { nodes: NodeProto[]; past: string; added: string }>();
  let count = attentions.length;
  const out: NodeProto[] = [];
  for (const n of nodes) {
    if (n.opType === 'Shape' && n.input?.[0]?.endsWith(LIVE)) {
      out.push(...liveShapeNodes(n));
      continue;
    }
    const a = attentions.find((x) => x.output === n);
    if (a) {
      let mask = masks.get(a.mask);
      if (!mask) {
        mask = maskNodes(a.mask, capacity);
        masks.set(a.mask, mask);
        out.push(...mask.nodes);
      }
      out.push(...attentionNodes(a, capacity, mask));
      continue;
    }
    if (replaced.has(n)) continue;
    let failed = false;
    const attribute = n.attribute?.map((attr) => {
      if (!attr.g || failed) return attr;
      const sub = rewriteList(attr.g.node ?? [], new Set((attr.g.output ?? []).map((o) => o.name ?? '')), capacity);
      if (!sub) {
        failed = true;
        return attr;
      }
      count += sub.attentions;
      return onnx.AttributeProto.create({ ...attr, g: { ...attr.g, node: sub.nodes } });
    });
    if (failed || n.attribute?.some((attr) => (attr.graphs ?? []).length > 0)) return undefined;
    out.push(attribute ? onnx.NodeProto.create({ ...n, attribute }) : n);
  }
  return { nodes: out, attentions: count };
}

/**
 * The graph's nodes (as keepCacheOutside left them) with each cached attention reading the past buffers in place;
 * undefined when the graph is not that rewrite's output or some reader of a live past is not of the pattern.
 */
export function attendOverCapacity(graph: GraphView, nodes: readonly NodeProto[]): NodeProto[] | undefined {
  const slices = nodes.filter((n) => n.opType === 'Slice' && n.output?.[0]?.endsWith(LIVE) && n.input?.[2] === CACHE_LENGTH);
  const first = slices[0]?.input?.[0];
  if (!first) return undefined;
  const capacity = `${PREFIX}/capacity`;
  const result = rewriteList(
    nodes.filter((n) => !slices.includes(n)),
    new Set(graph.outputs),
    capacity,
  );
  if (!result || result.attentions === 0) return undefined;
  const shared = [
    intsConstant(C.zero, [0]),
    intsConstant(C.minusOne, [-1]),
    intsConstant(C.end, [2 ** 31 - 1]),
    intsConstant(C.two, [2]),
    intsConstant(C.three, [3]),
    intsConstant(C.four, [4]),
    scalarConstant(C.lowest, Float32Array.of(MASK_MIN)),
    op('Shape', [first], `${capacity}/shape`),
    op('Slice', [`${capacity}/shape`, C.two, C.three, C.zero], capacity),
  ];
  const rewritten = [...shared, ...result.nodes];
  // pruneUnused leaves a graph with subgraphs as it is: the Slices' constants, now unread, go here.
  const read = valuesRead(rewritten, graph.outputs);
  return pruneUnused(
    rewritten.filter((n) => n.opType !== 'Constant' || (n.output ?? []).some((o) => read.has(o))),
    graph.outputs,
  );
}

/** Every value some node reads, in the graph or its subgraphs, and the graph's outputs. */
function valuesRead(nodes: NodeProto[], outputs: readonly string[]): Set<string> {
  const read = new Set(outputs);
  for (const g of graphsOf({ node: nodes })) for (const n of g.node ?? []) for (const i of n.input ?? []) read.add(i);
  return read;
}
