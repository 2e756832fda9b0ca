/**
 * The graph rewrite: every MatMul whose weight is a 2-D float32 initializer (or a tied embedding seen through
 * `Transpose(perm=[1,0])`) becomes a quantized MatMul, in the main graph and inside every subgraph (the merged
 * decoder's `If` branches read the weights of the outer graph). Large embedding tables read by Gather become
 * int8 rows. With the dynamic method, the encoders' attention scores Q·Kᵀ (two activations) can be quantized too.
 * Everything else (biases, norms, convolutions, positions) stays float32. Input and output names of
 * the model and of every rewritten node are unchanged; new tensors live next to the weight they replace, and a
 * float32 weight nobody reads any more is dropped.
 *
 * Here: the settings, the walk over every graph and the clean-up. One rewriter per op kind
 * (rewrite-matmul.ts, rewrite-gather.ts) takes a node and the shared RewriteState (the GraphIndex built once,
 * fresh names, added tensors, counts).
 */
import { MoxingError } from '../errors.js';
import { GraphIndex, type GraphProto, type ModelProto, type NodeProto } from '../runtime/onnx/index.js';
import { rewriteGather } from './rewrite-gather.js';
import { quantizesActivationsIn, rewriteMatMul } from './rewrite-matmul.js';
import { RewriteState } from './rewrite-state.js';

export type QuantizeMethod = 'matmulnbits' | 'dynamic';

export interface RewriteSettings {
  readonly method: QuantizeMethod;
  readonly bits: 4 | 8;
  readonly blockSize: number;
  readonly symmetric: boolean;
  readonly accuracyLevel: number;
  readonly embeddingMinElements: number;
  /** Dynamic method: also quantize MatMuls of two activations (attention scores Q·Kᵀ; see rewrite-matmul.ts). */
  readonly activationMatMuls: boolean;
  /** The tied output projection (lm-head) as MatMulNBits of these bits, whatever `method` and `bits` (undefined: as the rest). */
  readonly headBits?: 4 | 8;
}

export interface RewriteStats {
  /** MatMuls with a float32 weight that were quantized. */
  matmuls: number;
  /** MatMuls of two activations that were quantized (only with `activationMatMuls`). */
  activationMatMuls: number;
  tiedHeads: number;
  embeddings: number;
}

/** Ops that only quantized graphs have: their presence means the model was quantized already. */
export const QUANTIZED_OPS: ReadonlySet<string> = new Set([
  'MatMulNBits', 'MatMulInteger', 'DynamicQuantizeLinear', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat',
  'QLinearMatMul', 'DequantizeLinear', 'QuantizeLinear', 'GatherBlockQuantized', 'ConvInteger',
]);

type Rewriter = (state: RewriteState, n: NodeProto, g: GraphProto) => NodeProto[] | undefined;

/** One rewriter per op of the default ONNX domain; it returns the replacement nodes, or undefined to keep the node. */
const REWRITERS: ReadonlyMap<string, Rewriter> = new Map([
  ['MatMul', rewriteMatMul],
  ['Gather', rewriteGather],
]);

export function rewriteModel(model: ModelProto, settings: RewriteSettings): RewriteStats {
  const main = model.graph;
  if (!main) throw new MoxingError('MODEL_INVALID', 'the ONNX model has no graph');
  const index = new GraphIndex(main);
  refuseQuantized(index.graphs);
  const state = new RewriteState(index, settings, quantizesActivationsIn(main, settings));
  for (const g of index.graphs) g.node = (g.node ?? []).flatMap((n) => rewriteNode(state, n, g));
  removeUnused(index.graphs, state.touched);
  return state.stats;
}

function rewriteNode(state: RewriteState, n: NodeProto, g: GraphProto): NodeProto[] {
  const rewriter = (n.domain ?? '') === '' ? REWRITERS.get(n.opType ?? '') : undefined;
  return rewriter?.(state, n, g) ?? [n];
}

function refuseQuantized(graphs: readonly GraphProto[]): void {
  for (const g of graphs) {
    const op = (g.node ?? []).find((n) => QUANTIZED_OPS.has(n.opType ?? ''));
    if (op) throw new MoxingError('BAD_ARGUMENT', `the model is already quantized (it has a ${op.opType} node): quantize the float32 export instead`);
  }
}

/** Drops Transposes of tied weights and float32 weights that no node (in any graph) reads any more. */
function removeUnused(graphs: readonly GraphProto[], candidates: ReadonlySet<string>): void {
  for (let changed = true; changed; ) {
    changed = false;
    const read = new Set<string>();
    for (const g of graphs) {
      for (const n of g.node ?? []) for (const i of n.input ?? []) read.add(i);
      for (const o of g.output ?? []) read.add(o.name ?? '');
    }
    for (const g of graphs) {
      const kept = (g.node ?? []).filter((n) => n.opType !== 'Transpose' || !candidates.has(n.input?.[0] ?? '') || (n.output ?? []).some((o) => read.has(o)));
      if (kept.length !== (g.node ?? []).length) changed = true;
      g.node = kept;
      const init = (g.initializer ?? []).filter((t) => !candidates.has(t.name ?? '') || read.has(t.name ?? ''));
      if (init.length !== (g.initializer ?? []).length) changed = true;
      g.initializer = init;
      // IR < 4 lists initializers among the inputs too.
      g.input = (g.input ?? []).filter((v) => !candidates.has(v.name ?? '') || read.has(v.name ?? '') || init.some((t) => t.name === v.name));
    }
  }
}
