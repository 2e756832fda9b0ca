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
 *   buffers. A graph's other branch (the no-cache first pass of a merged decoder) is left as it is.
 * Nothing changes unless every past input the caller names is read by one Concat(past, new) on axis 2 whose
 * output is its present, in the main graph or a subgraph.
 */
import { MoxingError } from '../../errors.js';
import { onnx, type NodeProto } from './proto.js';
import type { GraphView } from './stream-rewrite.js';

/** The input of a rewritten graph: positions of each past input that hold the cache. */
export const CACHE_LENGTH = 'cache_length';

const DT = onnx.TensorProto.DataType;

const liveName = (past: string) => `${past}/live`;
const wholeName = (present: string) => `${present}/whole`;
const presentOf = (past: string) => past.replace(/^past_key_values\./, 'present.');

function int64Constant(output: string, value: number): NodeProto {
  const rawData = new Uint8Array(new BigInt64Array([BigInt(value)]).buffer);
  const tensor = onnx.TensorProto.create({ dims: [1], dataType: DT.INT64, rawData });
  return onnx.NodeProto.create({
    opType: 'Constant',
    name: output,
    output: [output],
    attribute: [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: tensor })],
  });
}

function concatAxis(n: NodeProto): number {
  return Number(n.attribute?.find((a) => a.name === 'axis')?.i ?? 0);
}

/**
 * One graph's nodes rewritten (see the file header), subgraphs included; `matched` gains each past input whose
 * Concat was found here. A graph output named like a present is kept as that name, now the new position.
 */
function rewriteNodes(nodes: readonly NodeProto[], outputs: ReadonlySet<string>, pasts: ReadonlySet<string>, matched: Set<string>): NodeProto[] {
  const presents = new Set<string>();
  for (const n of nodes) {
    const [past, added] = n.input ?? [];
    if (n.opType !== 'Concat' || !pasts.has(past) || (n.input ?? []).length !== 2) continue;
    const present = presentOf(past);
    if (n.output?.[0] !== present || !outputs.has(present) || ![2, -2].includes(concatAxis(n)) || !added) continue;
    if (matched.has(past)) throw new MoxingError('MODEL_INVALID', `two concats extend ${past}`);
    matched.add(past);
    presents.add(present);
  }
  const rename = (value: string) => (pasts.has(value) ? liveName(value) : presents.has(value) ? wholeName(value) : value);
  return nodes.flatMap((n) => {
    const attribute = n.attribute?.map((a) => {
      if (!a.g && !(a.graphs ?? []).length) return a;
      const sub = (g: NonNullable<typeof a.g>) => ({ ...g, node: rewriteNodes(g.node ?? [], new Set((g.output ?? []).map((o) => o.name ?? '')), pasts, matched) });
      return onnx.AttributeProto.create({ ...a, ...(a.g ? { g: sub(a.g) } : {}), ...((a.graphs ?? []).length ? { graphs: a.graphs!.map(sub) } : {}) });
    });
    const output = n.output?.[0];
    if (n.opType === 'Concat' && output && presents.has(output)) {
      const whole = onnx.NodeProto.create({ ...n, input: (n.input ?? []).map(rename), output: [wholeName(output)], attribute });
      const newPosition = onnx.NodeProto.create({ opType: 'Identity', name: `${n.name ?? output}/new_position`, input: [n.input?.[1] ?? ''], output: [output] });
      return [whole, newPosition];
    }
    return [onnx.NodeProto.create({ ...n, input: (n.input ?? []).map(rename), attribute })];
  });
}

/** The graph's nodes with the cache of the past inputs `isPast` picks kept by the caller; undefined when the graph does not match. */
export function keepCacheOutside(graph: GraphView, isPast: (input: string) => boolean): NodeProto[] | undefined {
  const pasts = new Set(graph.inputs.filter(isPast));
  if (pasts.size === 0 || graph.inputs.includes(CACHE_LENGTH)) return undefined;
  const matched = new Set<string>();
  let rewritten: NodeProto[];
  try {
    rewritten = rewriteNodes(graph.nodes, new Set(graph.outputs), pasts, matched);
  } catch (cause) {
    if (cause instanceof MoxingError) return undefined;
    throw cause;
  }
  if (matched.size !== pasts.size) return undefined;
  graph.addInput({ name: CACHE_LENGTH, type: { tensorType: { elemType: DT.INT64, shape: { dim: [{ dimValue: 1 }] } } } });
  const start = `${CACHE_LENGTH}/start`;
  const axis = `${CACHE_LENGTH}/axis`;
  const slices = [...pasts].map((past) => onnx.NodeProto.create({ opType: 'Slice', name: liveName(past), input: [past, start, CACHE_LENGTH, axis], output: [liveName(past)] }));
  return [int64Constant(start, 0), int64Constant(axis, 2), ...slices, ...rewritten];
}
