/**
 * Keeping a decoder's KV cache outside its session: a load-time rewrite for graphs whose cached step extends each
 * past input by Concat(past, new) and returns that as its present (the optimum and onnx-community exports).
 *
 * onnxruntime-node copies every output into a new JavaScript buffer, so such a step copies out the whole growing
 * cache, into pages never touched before, at every token: on Whisper base at 8 rows and 200 positions that
 * doubled the step. Rewritten:
 * - a new input `cache_length` (int64 [1]) says how many positions (axis 2) of each past input hold the cache; the
 *   past inputs may be longer (the caller's buffers, with room to grow). Every reader of a past input reads
 *   `Slice(past, 0, cache_length, axis 2)` instead, so the Concat and anything else (a position offset taken from
 *   the past's Shape) see the tensors they saw before, and every value computed is the same, bit for bit;
 * - each present is only what the step adds (the Concat's second input), which the caller writes into its
 *   buffers; when only Identity nodes stood between the Concat and the present, the node that makes the new
 *   positions outputs the present itself (no copy). A graph's other branch (the no-cache first pass of a merged
 *   decoder) is left as it is.
 * Nothing changes unless every past input the caller names is read by one Concat(past, new) on axis 2 whose
 * output is its present, in the main graph or a subgraph; Identity and Cast nodes may stand on either side of the
 * Concat (a float16 cache around float32 attention), and the new positions then go through the same ones. A
 * present made any other way (ORT's GroupQueryAttention, which returns the whole cache itself) leaves the graph
 * as exported.
 */
import { MoxingError } from '../../errors.js';
import { nodeProducers, pruneUnused } from './graph-index.js';
import { intsConstant, onnx, type NodeProto } from './proto.js';
import type { GraphView } from './stream-rewrite.js';

/** The input of a rewritten graph: positions of each past input that hold the cache. */
export const CACHE_LENGTH = 'cache_length';

const DT = onnx.TensorProto.DataType;

const liveName = (past: string) => `${past}/live`;
const wholeName = (present: string) => `${present}/whole`;
const presentOf = (past: string) => past.replace(/^past_key_values\./, 'present.');

function concatAxis(n: NodeProto): number {
  return Number(n.attribute?.find((a) => a.name === 'axis')?.i ?? 0);
}

/** Operators between a past and its Concat, or between the Concat and its present, that act on each value alone. */
const PASS_THROUGH = new Set(['Identity', 'Cast']);

/**
 * A past input extended by one Concat(past, added) on axis 2 whose output becomes its present: directly (optimum's
 * exports), or through Identity and Cast nodes on either side (a float16 cache widened to float32 around a float32
 * attention, narrowed back for the present). `after` are the nodes from the Concat to the present, in order.
 */
interface Extension {
  readonly past: string;
  readonly present: string;
  readonly added: string;
  /** The node whose output is the present: the Concat, or the last of `after`. */
  readonly last: NodeProto;
  readonly after: readonly NodeProto[];
}

function extensionOf(past: string, outputs: ReadonlySet<string>, made: ReadonlyMap<string, NodeProto>): Extension | undefined {
  const present = presentOf(past);
  if (!outputs.has(present)) return undefined;
  const after: NodeProto[] = [];
  let concat = made.get(present);
  while (concat && PASS_THROUGH.has(concat.opType ?? '')) {
    after.unshift(concat);
    concat = made.get(concat.input?.[0] ?? '');
  }
  const [first, added] = concat?.input ?? [];
  if (!concat || concat.opType !== 'Concat' || concat.input?.length !== 2 || ![2, -2].includes(concatAxis(concat)) || !added) return undefined;
  let source = first;
  for (let n = made.get(source); source !== past && n && PASS_THROUGH.has(n.opType ?? ''); n = made.get(source)) source = n.input?.[0] ?? '';
  return source === past ? { past, present, added, last: after.at(-1) ?? concat, after } : undefined;
}

/** What a step adds, as its present: `added` through the same Identity/Cast nodes as the whole cache. */
function newPositionNodes(e: Extension): NodeProto[] {
  if (e.after.length === 0) return [onnx.NodeProto.create({ opType: 'Identity', name: `${e.last.name ?? e.present}/new_position`, input: [e.added], output: [e.present] })];
  let value = e.added;
  return e.after.map((n, i) => {
    const output = i === e.after.length - 1 ? e.present : `${n.output?.[0] ?? e.present}/new_position`;
    const node = onnx.NodeProto.create({ ...n, name: `${n.name ?? output}/new_position`, input: [value], output: [output] });
    value = output;
    return node;
  });
}

/**
 * One graph's nodes rewritten (see the file header), subgraphs included; `matched` gains each past input whose
 * Concat was found here. A graph output named like a present is kept as that name, now the new positions.
 */
function rewriteNodes(nodes: readonly NodeProto[], outputs: ReadonlySet<string>, pasts: ReadonlySet<string>, matched: Set<string>): NodeProto[] {
  const made = nodeProducers(nodes);
  const extensions = new Map<NodeProto, Extension>();
  for (const past of pasts) {
    const e = extensionOf(past, outputs, made);
    if (!e) continue;
    if (matched.has(past)) throw new MoxingError('MODEL_INVALID', `two concats extend ${past}`);
    matched.add(past);
    extensions.set(e.last, e);
  }
  const presents = new Set([...extensions.values()].map((e) => e.present));
  // A present that is the new positions as they are (only Identity nodes after the Concat): the node that makes
  // them writes the present itself, instead of an Identity that copies them (one node per past input per step).
  // Not in a graph with subgraphs (they may read the value by its old name), nor for a value two presents share.
  const direct = new Map<string, string>();
  const hasSubgraphs = nodes.some((n) => n.attribute?.some((a) => a.g || (a.graphs ?? []).length > 0));
  const addedCount = new Map<string, number>();
  for (const e of extensions.values()) addedCount.set(e.added, (addedCount.get(e.added) ?? 0) + 1);
  for (const e of extensions.values()) {
    const plain = e.after.every((n) => n.opType === 'Identity') && made.has(e.added) && !outputs.has(e.added) && !pasts.has(e.added) && addedCount.get(e.added) === 1;
    if (plain && !hasSubgraphs) direct.set(e.added, e.present);
  }
  const rename = (value: string) => (pasts.has(value) ? liveName(value) : presents.has(value) ? wholeName(value) : (direct.get(value) ?? value));
  return nodes.flatMap((n) => {
    const attribute = n.attribute?.map((a) => {
      if (!a.g && !(a.graphs ?? []).length) return a;
      const sub = (g: NonNullable<typeof a.g>) => ({ ...g, node: rewriteNodes(g.node ?? [], new Set((g.output ?? []).map((o) => o.name ?? '')), pasts, matched) });
      return onnx.AttributeProto.create({ ...a, ...(a.g ? { g: sub(a.g) } : {}), ...((a.graphs ?? []).length ? { graphs: a.graphs!.map(sub) } : {}) });
    });
    const node = onnx.NodeProto.create({ ...n, input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename), attribute });
    const e = extensions.get(n);
    return e && !direct.has(e.added) ? [node, ...newPositionNodes(e)] : [node];
  });
}

/**
 * The graph's nodes (`nodes`: as an earlier rewrite left them) with the cache of the past inputs `isPast` picks kept
 * by the caller; undefined when the graph does not match. A node left unread (the narrowing Cast of the whole
 * cache, once the present is only the new positions) is dropped.
 */
export function keepCacheOutside(graph: GraphView, isPast: (input: string) => boolean, nodes: readonly NodeProto[] = graph.nodes): NodeProto[] | undefined {
  const pasts = new Set(graph.inputs.filter(isPast));
  if (pasts.size === 0 || graph.inputs.includes(CACHE_LENGTH)) return undefined;
  const matched = new Set<string>();
  let rewritten: NodeProto[];
  try {
    rewritten = rewriteNodes(nodes, new Set(graph.outputs), pasts, matched);
  } catch (cause) {
    if (cause instanceof MoxingError) return undefined;
    throw cause;
  }
  if (matched.size !== pasts.size) return undefined;
  graph.addInput({ name: CACHE_LENGTH, type: { tensorType: { elemType: DT.INT64, shape: { dim: [{ dimValue: 1 }] } } } });
  const start = `${CACHE_LENGTH}/start`;
  const axis = `${CACHE_LENGTH}/axis`;
  const slices = [...pasts].map((past) => onnx.NodeProto.create({ opType: 'Slice', name: liveName(past), input: [past, start, CACHE_LENGTH, axis], output: [liveName(past)] }));
  return pruneUnused([intsConstant(start, [0]), intsConstant(axis, [2]), ...slices, ...rewritten], graph.outputs);
}
