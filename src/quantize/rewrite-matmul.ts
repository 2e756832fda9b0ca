/**
 * The MatMul rewriters. A MatMul whose B is a 2-D float32 weight (an initializer, or a tied embedding seen through
 * `Transpose(perm=[1,0])`) becomes MatMulNBits or quantize_dynamic's int8 pattern. With the dynamic method and
 * `activationMatMuls`, a MatMul of two activations (the encoders' attention scores Q·Kᵀ) becomes
 * DynamicQuantizeMatMul. Each replacement writes the MatMul's own output name.
 */
import { dimsOf, floatData, intsAttr, node, tensorProto, type GraphIndex, type GraphProto, type NodeProto, type Owned } from '../runtime/onnx/index.js';
import type { RewriteSettings } from './rewrite.js';
import type { RewriteState } from './rewrite-state.js';
import { kMajor, nMajor, quantizeBlockwise, quantizePerColumnInt8, type WeightView } from './weights.js';

/** A MatMul's B as a float32 weight: `kn` an initializer [K, N], `nk` a tied [N, K] table read through Transpose. */
interface Weight {
  readonly view: WeightView;
  readonly owner: Owned;
  readonly layout: 'kn' | 'nk';
  /** The initializer's name. */
  readonly name: string;
}

export function rewriteMatMul(state: RewriteState, n: NodeProto, g: GraphProto): NodeProto[] | undefined {
  const w = weightOf(state.index, n);
  if (!w) return quantizesActivations(state, n) ? rewriteActivationMatMul(state, n, g) : undefined;
  state.touched.add(n.input?.[1] ?? '');
  state.touched.add(w.name);
  if (w.layout === 'nk') state.stats.tiedHeads++;
  state.stats.matmuls++;
  const { headBits, method, bits } = state.settings;
  if (w.layout === 'nk' && headBits) return rewriteWeightNBits(state, n, w, headBits);
  return method === 'matmulnbits' ? rewriteWeightNBits(state, n, w, bits) : rewriteWeightDynamic(state, n, w);
}

function weightOf(index: GraphIndex, n: NodeProto): Weight | undefined {
  const b = n.input?.[1] ?? '';
  const direct = index.initializers.get(b);
  if (direct) {
    const dims = dimsOf(direct.tensor);
    const data = dims.length === 2 ? floatData(direct.tensor) : undefined;
    return data ? { view: kMajor(data, dims[0], dims[1]), owner: direct, layout: 'kn', name: b } : undefined;
  }
  const t = index.producers.get(b);
  if (t?.opType !== 'Transpose') return undefined;
  const perm = intsAttr(t, 'perm');
  const source = index.initializers.get(t.input?.[0] ?? '');
  if (!source || (perm && (perm[0] !== 1 || perm[1] !== 0))) return undefined;
  const dims = dimsOf(source.tensor);
  const data = dims.length === 2 ? floatData(source.tensor) : undefined;
  return data ? { view: nMajor(data, dims[1], dims[0]), owner: source, layout: 'nk', name: source.tensor.name ?? '' } : undefined;
}

/** Weight-only blocks of `bits` (com.microsoft MatMulNBits); activations stay float32 (or int8 in-kernel at accuracy level 4). */
function rewriteWeightNBits(state: RewriteState, n: NodeProto, w: Weight, bits: 4 | 8): NodeProto[] {
  const [a] = n.input ?? [];
  const [y] = n.output ?? [];
  const { blockSize, symmetric, accuracyLevel } = state.settings;
  const { k, n: cols } = w.view;
  const [bq, scales, zp] = state.once(`${w.name}|${w.layout}|nbits${bits}`, w.owner.graph, () => {
    const q = quantizeBlockwise(w.view, bits, blockSize, symmetric);
    const tensors = [
      tensorProto(state.unique(`${w.name}_Q${bits}`), [cols, q.blocksPerColumn, (blockSize * bits) / 8], q.packed),
      tensorProto(state.unique(`${w.name}_scales`), [cols * q.blocksPerColumn], q.scales),
    ];
    if (q.zeroPoints) tensors.push(tensorProto(state.unique(`${w.name}_zero_points`), [q.zeroPoints.length], q.zeroPoints));
    return tensors;
  });
  const attrs = { K: k, N: cols, bits, block_size: blockSize, accuracy_level: accuracyLevel };
  return [node('MatMulNBits', zp ? [a, bq, scales, zp] : [a, bq, scales], [y], `${n.name || y}_Q${bits}`, attrs, 'com.microsoft')];
}

/** quantize_dynamic's pattern (int8 weight per column, A per call), which ORT fuses into one MatMulIntegerToFloat kernel. */
function rewriteWeightDynamic(state: RewriteState, n: NodeProto, w: Weight): NodeProto[] {
  const [a] = n.input ?? [];
  const [y] = n.output ?? [];
  const base = n.name || y;
  const { k, n: cols } = w.view;
  const [bq, bScale] = state.once(`${w.name}|${w.layout}|int8`, w.owner.graph, () => {
    const q = quantizePerColumnInt8(w.view);
    return [tensorProto(state.unique(`${w.name}_int8`), [k, cols], q.data), tensorProto(state.unique(`${w.name}_scale`), [cols], q.scales)];
  });
  const [aq, aScale, aZero, product, cast, scale] = ['quantized', 'scale', 'zero_point', 'int32', 'float', 'scales_mul'].map((s) => state.unique(`${y}_${s}`));
  return [
    node('DynamicQuantizeLinear', [a], [aq, aScale, aZero], `${base}_quant`),
    node('MatMulInteger', [aq, bq, aZero], [product], `${base}_MatMulInteger`),
    node('Cast', [product], [cast], `${base}_cast`, { to: 1 }),
    node('Mul', [aScale, bScale], [scale], `${base}_scales_mul`),
    node('Mul', [cast, scale], [y], `${base}_output_scale_mul`),
  ];
}

/**
 * Whether activation MatMuls are quantized in the model whose main graph is `main`: with the dynamic method and
 * `activationMatMuls`, and only without a key/value cache or encoder states among its inputs (a decoder
 * multiplies a few new query rows by a long K/V, so quantizing K/V per call costs more than the product saves).
 */
export function quantizesActivationsIn(main: GraphProto, settings: RewriteSettings): boolean {
  const inputs = (main.input ?? []).map((v) => v.name ?? '');
  const isDecoder = inputs.some((name) => name.startsWith('past_key_values') || name === 'encoder_hidden_states');
  return settings.method === 'dynamic' && settings.activationMatMuls && !isDecoder;
}

/**
 * Activation MatMuls worth quantizing: both inputs computed per call, in a model where they are quantized at all
 * (quantizesActivationsIn), and A not a Softmax (attention probabilities, mostly below one 8-bit step).
 */
function quantizesActivations(state: RewriteState, n: NodeProto): boolean {
  const [a, b] = n.input ?? [];
  if (!state.quantizeActivations || !a || !b || state.index.isConstant(a) || state.index.isConstant(b)) return false;
  return state.index.producers.get(a)?.opType !== 'Softmax';
}

/**
 * A MatMul of two activations. A is quantized to uint8 per call inside com.microsoft DynamicQuantizeMatMul, as
 * on the weight path; B becomes symmetric int8 per call, with one scale from max |B|. quantize_dynamic makes B
 * uint8 through DynamicQuantizeLinear instead, but ORT's u8·u8 kernel measured barely faster than float here,
 * while u8·s8 is the path VNNI CPUs accelerate.
 */
function rewriteActivationMatMul(state: RewriteState, n: NodeProto, g: GraphProto): NodeProto[] {
  const [a, b] = n.input ?? [];
  const [y] = n.output ?? [];
  const base = n.name || y;
  state.stats.activationMatMuls++;
  const [inv127, tiny, zero] = q8Scalars(state, g);
  const [abs, amax, safe, scale, bq, bqT] = ['abs', 'amax', 'amax_safe', 'scale', 'int8', 'int8_transposed'].map((s) => state.unique(`${y}_b_${s}`));
  // Kᵀ in Q·Kᵀ: quantize K and move the Transpose after it, on a quarter of the bytes.
  const t = state.index.producers.get(b);
  const moveTranspose = t?.opType === 'Transpose' && state.index.consumers.get(b) === 1;
  const source = moveTranspose ? (t.input?.[0] ?? '') : b;
  const perm = moveTranspose ? intsAttr(t, 'perm') : undefined;
  if (moveTranspose) state.touched.add(source); // so that removeUnused drops the float Transpose
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

/** The scalar constants of the activation MatMuls [1/127, the scale floor, int8 zero], once per graph. */
function q8Scalars(state: RewriteState, g: GraphProto): string[] {
  // The key has no '|', so it cannot meet a weight's key.
  return state.once(`q8 scalars of graph ${state.index.graphs.indexOf(g)}`, g, () => [
    tensorProto(state.unique('moxing_q8_inv127'), [], Float32Array.of(1 / 127)),
    tensorProto(state.unique('moxing_q8_tiny'), [], Float32Array.of(1e-30)),
    tensorProto(state.unique('moxing_q8_zero_int8'), [], Int8Array.of(0)),
  ]);
}
