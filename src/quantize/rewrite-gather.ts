/** The Gather rewriter: a large float32 embedding table read by Gather(axis 0) becomes int8 rows with one scale each. */
import { dimsOf, floatData, intAttr, node, tensorProto, type NodeProto } from '../runtime/onnx/index.js';
import type { RewriteState } from './rewrite-state.js';
import { quantizePerRowInt8 } from './weights.js';

export function rewriteGather(state: RewriteState, n: NodeProto): NodeProto[] | undefined {
  const tableName = n.input?.[0] ?? '';
  const owner = state.index.initializers.get(tableName);
  if (!owner || (intAttr(n, 'axis') ?? 0) !== 0) return undefined;
  const dims = dimsOf(owner.tensor);
  if (dims.length !== 2 || dims[0] * dims[1] < state.settings.embeddingMinElements) return undefined;
  const table = floatData(owner.tensor);
  if (!table) return undefined;
  state.touched.add(tableName);
  state.stats.embeddings++;
  const [rowsQ, rowScales] = state.once(`${tableName}|rows`, owner.graph, () => {
    const q = quantizePerRowInt8(table, dims[0], dims[1]);
    return [tensorProto(state.unique(`${tableName}_int8`), dims, q.data), tensorProto(state.unique(`${tableName}_row_scale`), [dims[0], 1], q.scales)];
  });
  const [ids] = n.input?.slice(1) ?? [];
  const [y] = n.output ?? [];
  const base = n.name || y;
  const [rows, rowsF, scales] = ['int8', 'float', 'row_scale'].map((s) => state.unique(`${y}_${s}`));
  return [
    node('Gather', [rowsQ, ids], [rows], `${base}_int8`, { axis: 0 }),
    node('Cast', [rows], [rowsF], `${base}_cast`, { to: 1 }),
    node('Gather', [rowScales, ids], [scales], `${base}_scale`, { axis: 0 }),
    node('Mul', [rowsF, scales], [y], `${base}_dequant`),
  ];
}
