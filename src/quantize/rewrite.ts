/**
 * The graph rewrite: every MatMul whose weight is a 2-D float32 initializer (or a tied embedding seen through
 * `Transpose(perm=[1,0])`) becomes a quantized MatMul, in the main graph and inside every subgraph (the merged
 * decoder's `If` branches read the weights of the outer graph). Large embedding tables read by Gather become
 * int8 rows. With the dynamic method, the encoders' attention scores Q·Kᵀ (two activations) can be quantized too.
 * Everything else (biases, norms, convolutions, positions) stays float32. Input and output names of
 * the model and of every rewritten node are unchanged; new tensors live next to the weight they replace, and a
 * float32 weight nobody reads any more is dropped.
 */
import { MoxingError } from '../errors.js';
import { dimsOf, floatData, graphsOf, intAttr, intsAttr, node, tensorProto, type GraphProto, type ModelProto, type NodeProto, type TensorProto } from '../runtime/onnx/index.js';
import { kMajor, nMajor, quantizeBlockwise, quantizePerColumnInt8, quantizePerRowInt8, type WeightView } from './weights.js';

export type QuantizeMethod = 'matmulnbits' | 'dynamic';

export interface RewriteSettings {
  readonly method: QuantizeMethod;
  readonly bits: 4 | 8;
  readonly blockSize: number;
  readonly symmetric: boolean;
  readonly accuracyLevel: number;
  readonly embeddingMinElements: number;
  /** Dynamic method: also quantize MatMuls of two activations (attention scores Q·Kᵀ; see quantizesActivations). */
  readonly activationMatMuls: boolean;
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

interface Owned {
  readonly tensor: TensorProto;
  readonly graph: GraphProto;
}

export function rewriteModel(model: ModelProto, settings: RewriteSettings): RewriteStats {
  const main = model.graph;
  if (!main) throw new MoxingError('MODEL_INVALID', 'the ONNX model has no graph');
  const graphs = [...graphsOf(main)];
  for (const g of graphs) {
    const op = (g.node ?? []).find((n) => QUANTIZED_OPS.has(n.opType ?? ''));
    if (op) throw new MoxingError('BAD_ARGUMENT', `the model is already quantized (it has a ${op.opType} node): quantize the float32 export instead`);
  }
  const initializers = new Map<string, Owned>();
  for (const g of graphs) for (const t of g.initializer ?? []) initializers.set(t.name ?? '', { tensor: t, graph: g });
  const names = new Set<string>(initializers.keys());
  for (const g of graphs) for (const n of g.node ?? []) for (const o of n.output ?? []) names.add(o);
  const unique = (base: string): string => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    names.add(name);
    return name;
  };
  // Producers of values, to see a MatMul weight that is Transpose(initializer).
  const producers = new Map<string, NodeProto>();
  for (const g of graphs) for (const n of g.node ?? []) for (const o of n.output ?? []) producers.set(o, n);
  const consumers = new Map<string, number>();
  for (const g of graphs) {
    for (const n of g.node ?? []) for (const i of n.input ?? []) consumers.set(i, (consumers.get(i) ?? 0) + 1);
    for (const o of g.output ?? []) consumers.set(o.name ?? '', (consumers.get(o.name ?? '') ?? 0) + 1);
  }

  const inputs = (main.input ?? []).map((v) => v.name ?? '');
  const isDecoder = inputs.some((name) => name.startsWith('past_key_values') || name === 'encoder_hidden_states');
  const activations = settings.method === 'dynamic' && settings.activationMatMuls && !isDecoder;
  const scalars = new Map<GraphProto, { inv127: string; tiny: string; zero: string }>();
  const cache = new Map<string, string[]>();
  const touched = new Set<string>();
  const stats: RewriteStats = { matmuls: 0, activationMatMuls: 0, tiedHeads: 0, embeddings: 0 };

  /** Adds quantized tensors beside `owner` once per (weight, layout), so both If branches share them. */
  const shared = (key: string, owner: Owned, make: () => TensorProto[]): string[] => {
    let made = cache.get(key);
    if (!made) {
      const tensors = make();
      owner.graph.initializer = [...(owner.graph.initializer ?? []), ...tensors];
      made = tensors.map((t) => t.name ?? '');
      cache.set(key, made);
    }
    return made;
  };

  for (const g of graphs) {
    const out: NodeProto[] = [];
    for (const n of g.node ?? []) {
      const replaced =
        n.opType === 'MatMul' && (n.domain ?? '') === '' ? rewriteMatMul(n, g) : n.opType === 'Gather' && (n.domain ?? '') === '' ? rewriteGather(n) : undefined;
      out.push(...(replaced ?? [n]));
    }
    g.node = out;
  }

  function weightOf(n: NodeProto): { view: WeightView; owner: Owned; layout: 'kn' | 'nk'; name: string } | undefined {
    const b = n.input?.[1] ?? '';
    const direct = initializers.get(b);
    if (direct) {
      const dims = dimsOf(direct.tensor);
      const data = dims.length === 2 ? floatData(direct.tensor) : undefined;
      return data ? { view: kMajor(data, dims[0], dims[1]), owner: direct, layout: 'kn', name: b } : undefined;
    }
    const t = producers.get(b);
    if (t?.opType !== 'Transpose') return undefined;
    const perm = intsAttr(t, 'perm');
    const source = initializers.get(t.input?.[0] ?? '');
    if (!source || (perm && (perm[0] !== 1 || perm[1] !== 0))) return undefined;
    const dims = dimsOf(source.tensor);
    const data = dims.length === 2 ? floatData(source.tensor) : undefined;
    return data ? { view: nMajor(data, dims[1], dims[0]), owner: source, layout: 'nk', name: source.tensor.name ?? '' } : undefined;
  }

  /** A value fixed at load time: an initializer (of any graph in scope) or a Constant node's output. */
  function isConstant(name: string): boolean {
    return initializers.has(name) || producers.get(name)?.opType === 'Constant';
  }

  /**
   * Activation MatMuls worth quantizing: both inputs computed per call, in a model without a key/value cache or
   * encoder states (a decoder multiplies a few new query rows by a long K/V, so quantizing K/V per call costs
   * more than the product saves), and A not a Softmax (attention probabilities, mostly below one 8-bit step).
   */
  function quantizesActivations(n: NodeProto): boolean {
    const [a, b] = n.input ?? [];
    if (!activations || !a || !b || isConstant(a) || isConstant(b)) return false;
    return producers.get(a)?.opType !== 'Softmax';
  }

  function rewriteMatMul(n: NodeProto, g: GraphProto): NodeProto[] | undefined {
    const w = weightOf(n);
    if (!w) return quantizesActivations(n) ? rewriteActivationMatMul(n, g) : undefined;
    const [a] = n.input ?? [];
    const [y] = n.output ?? [];
    const base = n.name || y;
    touched.add(n.input?.[1] ?? '');
    touched.add(w.name);
    if (w.layout === 'nk') stats.tiedHeads++;
    stats.matmuls++;
    const { k, n: cols } = w.view;
    if (settings.method === 'matmulnbits') {
      const bits = settings.bits;
      const [bq, scales, zp] = shared(`${w.name}|${w.layout}|nbits${bits}`, w.owner, () => {
        const q = quantizeBlockwise(w.view, bits, settings.blockSize, settings.symmetric);
        const tensors = [
          tensorProto(unique(`${w.name}_Q${bits}`), [cols, q.blocksPerColumn, (settings.blockSize * bits) / 8], q.packed),
          tensorProto(unique(`${w.name}_scales`), [cols * q.blocksPerColumn], q.scales),
        ];
        if (q.zeroPoints) tensors.push(tensorProto(unique(`${w.name}_zero_points`), [q.zeroPoints.length], q.zeroPoints));
        return tensors;
      });
      const attrs = { K: k, N: cols, bits, block_size: settings.blockSize, accuracy_level: settings.accuracyLevel };
      return [node('MatMulNBits', zp ? [a, bq, scales, zp] : [a, bq, scales], [y], `${base}_Q${bits}`, attrs, 'com.microsoft')];
    }
    // quantize_dynamic's pattern, which ORT fuses into one MatMulIntegerToFloat kernel.
    const [bq, bScale] = shared(`${w.name}|${w.layout}|int8`, w.owner, () => {
      const q = quantizePerColumnInt8(w.view);
      return [tensorProto(unique(`${w.name}_int8`), [k, cols], q.data), tensorProto(unique(`${w.name}_scale`), [cols], q.scales)];
    });
    const aq = unique(`${y}_quantized`);
    const aScale = unique(`${y}_scale`);
    const aZero = unique(`${y}_zero_point`);
    const product = unique(`${y}_int32`);
    const cast = unique(`${y}_float`);
    const scale = unique(`${y}_scales_mul`);
    return [
      node('DynamicQuantizeLinear', [a], [aq, aScale, aZero], `${base}_quant`),
      node('MatMulInteger', [aq, bq, aZero], [product], `${base}_MatMulInteger`),
      node('Cast', [product], [cast], `${base}_cast`, { to: 1 }),
      node('Mul', [aScale, bScale], [scale], `${base}_scales_mul`),
      node('Mul', [cast, scale], [y], `${base}_output_scale_mul`),
    ];
  }

  /**
   * A MatMul of two activations. A is quantized to uint8 per call inside com.microsoft DynamicQuantizeMatMul, as
   * on the weight path; B becomes symmetric int8 per call, with one scale from max |B|. quantize_dynamic makes B
   * uint8 through DynamicQuantizeLinear instead, but ORT's u8·u8 kernel measured barely faster than float here,
   * while u8·s8 is the path VNNI CPUs accelerate.
   */
  function rewriteActivationMatMul(n: NodeProto, g: GraphProto): NodeProto[] {
    const [a, b] = n.input ?? [];
    const [y] = n.output ?? [];
    const base = n.name || y;
    stats.activationMatMuls++;
    const { inv127, tiny, zero } = scalarsOf(g);
    const [abs, amax, safe, scale, bq, bqT] = ['abs', 'amax', 'amax_safe', 'scale', 'int8', 'int8_transposed'].map((s) => unique(`${y}_b_${s}`));
    // Kᵀ in Q·Kᵀ: quantize K and move the Transpose after it, on a quarter of the bytes.
    const t = producers.get(b);
    const moveTranspose = t?.opType === 'Transpose' && consumers.get(b) === 1;
    const source = moveTranspose ? (t.input?.[0] ?? '') : b;
    const perm = moveTranspose ? intsAttr(t, 'perm') : undefined;
    if (moveTranspose) touched.add(source); // so that removeUnused drops the float Transpose
    return [
      node('Abs', [source], [abs], `${base}_b_abs`),
      node('ReduceMax', [abs], [amax], `${base}_b_amax`, { keepdims: 0 }),
      // An all-zero B would give scale 0 and a 0/0 inside QuantizeLinear.
      node('Max', [amax, tiny], [safe], `${base}_b_amax_safe`),
      node('Mul', [safe, inv127], [scale], `${base}_b_scale`),
      node('QuantizeLinear', [source, scale, zero], [bq], `${base}_b_quant`),
      ...(moveTranspose ? [node('Transpose', [bq], [bqT], `${base}_b_transpose`, perm ? { perm } : {})] : []),
      node('DynamicQuantizeMatMul', [a, moveTranspose ? bqT : bq, scale, zero], [y], `${base}_DynamicQuantizeMatMul`, {}, 'com.microsoft'),
    ];
  }

  /** The scalar constants of the activation MatMuls, once per graph. */
  function scalarsOf(g: GraphProto): { inv127: string; tiny: string; zero: string } {
    let s = scalars.get(g);
    if (!s) {
      s = { inv127: unique('moxing_q8_inv127'), tiny: unique('moxing_q8_tiny'), zero: unique('moxing_q8_zero_int8') };
      g.initializer = [
        ...(g.initializer ?? []),
        tensorProto(s.inv127, [], Float32Array.of(1 / 127)),
        tensorProto(s.tiny, [], Float32Array.of(1e-30)),
        tensorProto(s.zero, [], Int8Array.of(0)),
      ];
      scalars.set(g, s);
    }
    return s;
  }

  function rewriteGather(n: NodeProto): NodeProto[] | undefined {
    const tableName = n.input?.[0] ?? '';
    const owner = initializers.get(tableName);
    if (!owner || (intAttr(n, 'axis') ?? 0) !== 0) return undefined;
    const dims = dimsOf(owner.tensor);
    if (dims.length !== 2 || dims[0] * dims[1] < settings.embeddingMinElements) return undefined;
    const table = floatData(owner.tensor);
    if (!table) return undefined;
    touched.add(tableName);
    stats.embeddings++;
    const [rowsQ, rowScales] = shared(`${tableName}|rows`, owner, () => {
      const q = quantizePerRowInt8(table, dims[0], dims[1]);
      return [tensorProto(unique(`${tableName}_int8`), dims, q.data), tensorProto(unique(`${tableName}_row_scale`), [dims[0], 1], q.scales)];
    });
    const [ids] = n.input?.slice(1) ?? [];
    const [y] = n.output ?? [];
    const base = n.name || y;
    const rows = unique(`${y}_int8`);
    const rowsF = unique(`${y}_float`);
    const scales = unique(`${y}_row_scale`);
    return [
      node('Gather', [rowsQ, ids], [rows], `${base}_int8`, { axis: 0 }),
      node('Cast', [rows], [rowsF], `${base}_cast`, { to: 1 }),
      node('Gather', [rowScales, ids], [scales], `${base}_scale`, { axis: 0 }),
      node('Mul', [rowsF, scales], [y], `${base}_dequant`),
    ];
  }

  removeUnused(graphs, touched);
  return stats;
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
