/**
 * int8 cross-attention keys for quantized Whisper decoders: a load-time rewrite of the cached step, and the small
 * model that quantizes a first pass's keys for it.
 *
 * A cached step reads every row's cross-attention K and V (6 layers × 1500 × 512 floats each on base): at 8 rows,
 * 295 MB a step against 77 MB of q8 weights. ONNX Runtime's CPU kernels read a cheaper dtype faster in one place only
 * (`bench/whisper-cross-attention.ts`): the scores Q·Kᵀ as MatMulInteger with the keys as its first operand, uint8
 * [1500, 64] per row and head, which MLAS reads without packing them (1.1-1.7× the float32 product at 8 rows,
 * across runs). float16 keys and values, int8 keys as the second operand and int8 values were all slower than
 * float32, and float32 keys as the first operand made the whole step slower. So:
 * - each key position is quantized on its own (symmetric, a scale per position: max |k| / 127, stored as uint8
 *   around 128), by `crossKeyQuantizerModel` after each first pass;
 * - the step's `MatMul(Q, Transpose(past key))` becomes `MatMulInteger(keys, Q as int8 [D, 1])`, Q quantized per
 *   row and head (symmetric, max |q| / 127), then the int32 scores times both scales. The values stay float32.
 * Each row's scores depend only on that row, as before. A row's keys take a quarter of the memory (base: 23 MB of
 * cross-attention K/V a row instead of 37). Applied to quantized decoders only: their weights are int8 already, and
 * they agree with float32 as well with these keys as without (the tests hold them to it); float32 decoders keep the
 * export's scores, as the fidelity tests need. A step whose keys are read any other way is left as it is.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { loadSessionFromBytes, type RuntimeOptions } from '../../runtime/index.js';
import { nodeReaders } from '../../runtime/onnx/graph-index.js';
import { encodeModel, graphsOf, intsAttr, intsConstant, node, onnx, scalarConstant, type NodeProto } from '../../runtime/onnx/proto.js';
import type { GraphView } from '../../runtime/onnx/stream-rewrite.js';

const DT = onnx.TensorProto.DataType;
const PREFIX = 'int8_cross_keys';
const C = { levels: `${PREFIX}/127`, tiny: `${PREFIX}/tiny`, zeroPoint: `${PREFIX}/128`, offset: `${PREFIX}/128f`, column: `${PREFIX}/column`, row: `${PREFIX}/row` } as const;
const CROSS_KEY = /^past_key_values\.(\d+)\.encoder\.key$/;

/** A tensor type of `elemType` with these dims (names are symbolic). */
function tensorType(elemType: number, ...dims: (string | number)[]) {
  return { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } };
}

/** The inputs a rewritten step reads instead of `past_key_values.{layer}.encoder.key`. */
export function int8KeyInputs(layer: number): { readonly keys: string; readonly scales: string } {
  return { keys: `past_key_values.${layer}.encoder.key_uint8`, scales: `past_key_values.${layer}.encoder.key_scale` };
}

/** Operators of a quantized graph's weights (quantize_dynamic's pattern, MatMulNBits), in any of its graphs. */
const QUANTIZED_OPS = new Set(['MatMulInteger', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'MatMulNBits', 'QAttention']);

/** Every node of `nodes` and of their subgraphs. */
function allNodes(nodes: readonly NodeProto[]): NodeProto[] {
  return [...graphsOf({ node: [...nodes] })].flatMap((g) => g.node ?? []);
}

/** Symmetric int8 of `x` with one scale per [N, C] slice (GlobalMaxPool: the same in every opset). */
function symmetricInt8(x: string, at: (s: string) => string): NodeProto[] {
  return [
    node('Abs', [x], [at('abs')], at('abs')),
    node('GlobalMaxPool', [at('abs')], [at('max')], at('max')),
    node('Max', [at('max'), C.tiny], [at('kept')], at('kept')),
    node('Div', [at('kept'), C.levels], [at('scale')], at('scale')),
    node('Div', [x, at('scale')], [at('scaled')], at('scaled')),
    node('Round', [at('scaled')], [at('rounded')], at('rounded')),
  ];
}

/**
 * The nodes for `scores = MatMul(query, Transpose(past key))` over the int8 keys of `layer`. The query [rows, heads,
 * 1, headDim] becomes the column [rows, heads, headDim, 1] and the scores [rows, heads, positions, 1] the row
 * [rows, heads, 1, positions] by Reshapes (Transposes cost more, measured): a cached step has one position, and a
 * query of more would fail in MatMulInteger (headDim against its multiple) rather than compute other scores.
 */
function scoreNodes(query: string, scores: string, layer: number): NodeProto[] {
  const { keys, scales } = int8KeyInputs(layer);
  const at = (s: string) => `${scores}/${PREFIX}/${s}`;
  return [
    ...symmetricInt8(query, (s) => at(`query_${s}`)),
    node('Cast', [at('query_rounded')], [at('query_int8')], at('query_int8'), { to: DT.INT8 }),
    node('Reshape', [at('query_int8'), C.column], [at('query_column')], at('query_column')),
    node('MatMulInteger', [keys, at('query_column'), C.zeroPoint], [at('int32')], at('int32')),
    node('Cast', [at('int32')], [at('float')], at('float'), { to: DT.FLOAT }),
    node('Reshape', [at('float'), C.row], [at('row')], at('row')),
    node('Mul', [at('row'), at('query_scale')], [at('by_query')], at('by_query')),
    node('Mul', [at('by_query'), scales], [scores], at('by_key')),
  ];
}

/** One graph's nodes with every matching score product rewritten, subgraphs included; `layers` gains their layers. */
function rewriteList(nodes: readonly NodeProto[], layers: Set<number>): NodeProto[] {
  const readers = nodeReaders(nodes);
  const replaced = new Map<NodeProto, NodeProto[]>();
  for (const transpose of nodes) {
    const layer = Number(CROSS_KEY.exec(transpose.input?.[0] ?? '')?.[1] ?? NaN);
    if (transpose.opType !== 'Transpose' || !Number.isInteger(layer) || intsAttr(transpose, 'perm')?.join() !== '0,1,3,2') continue;
    const read = readers.get(transpose.output?.[0] ?? '') ?? [];
    const product = read[0];
    if (read.length !== 1 || product.opType !== 'MatMul' || product.input?.[1] !== transpose.output?.[0]) continue;
    replaced.set(transpose, []);
    replaced.set(product, scoreNodes(product.input?.[0] ?? '', product.output?.[0] ?? '', layer));
    layers.add(layer);
  }
  return nodes.flatMap((n) => {
    const done = replaced.get(n);
    if (done) return done;
    if (!n.attribute?.some((a) => a.g)) return [n];
    const attribute = n.attribute.map((a) => (a.g ? onnx.AttributeProto.create({ ...a, g: { ...a.g, node: rewriteList(a.g.node ?? [], layers) } }) : a));
    return [onnx.NodeProto.create({ ...n, attribute })];
  });
}

/**
 * `nodes` (the decoder as the earlier rewrites left it) with the cached step's cross-attention scores over int8 keys;
 * undefined for a float decoder (unless `always`: tests), or when some layer's key input is read other than by the
 * one score product.
 */
export function int8CrossKeys(graph: GraphView, nodes: readonly NodeProto[], always = false): NodeProto[] | undefined {
  const keyInputs = graph.inputs.filter((name) => CROSS_KEY.test(name));
  const every = allNodes(nodes);
  if (keyInputs.length === 0 || !(always || every.some((n) => QUANTIZED_OPS.has(n.opType ?? '')))) return undefined;
  // The runner feeds the float32 keys empty: each must have no reader but its score product's Transpose.
  const reads = (name: string) => every.reduce((count, n) => count + (n.input ?? []).filter((i) => i === name).length, 0);
  if (keyInputs.some((name) => reads(name) !== 1)) return undefined;
  const layers = new Set<number>();
  const rewritten = rewriteList(nodes, layers);
  if (layers.size !== keyInputs.length) return undefined;
  for (const layer of [...layers].sort((a, b) => a - b)) {
    const { keys, scales } = int8KeyInputs(layer);
    graph.addInput({ name: keys, type: tensorType(DT.UINT8, 'batch_size', 'decoder_attention_heads', 'encoder_sequence_length', 'head_dim') });
    graph.addInput({ name: scales, type: tensorType(DT.FLOAT, 'batch_size', 'decoder_attention_heads', 1, 'encoder_sequence_length') });
  }
  return [intsConstant(C.column, [0, 0, -1, 1]), intsConstant(C.row, [0, 0, 1, -1]), scalarConstant(C.levels, Float32Array.of(127)), scalarConstant(C.tiny, Float32Array.of(1e-30)), scalarConstant(C.zeroPoint, Uint8Array.of(128)), ...rewritten];
}

/**
 * The model that quantizes a first pass's keys for the rewritten step: inputs `key.{layer}` [rows, heads, positions,
 * headDim] float32; outputs `key_uint8.{layer}` (the same shape, uint8 around 128) and `key_scale.{layer}` [rows,
 * heads, 1, positions].
 */
export function crossKeyQuantizerModel(layers: number): Uint8Array {
  const nodes: NodeProto[] = [scalarConstant(C.levels, Float32Array.of(127)), scalarConstant(C.tiny, Float32Array.of(1e-30)), scalarConstant(C.offset, Float32Array.of(128))];
  const inputs = [];
  const outputs = [];
  for (let layer = 0; layer < layers; layer++) {
    const at = (s: string) => `${layer}/${s}`;
    nodes.push(
      node('Abs', [`key.${layer}`], [at('abs')], at('abs')),
      node('ReduceMax', [at('abs')], [at('max')], at('max'), { axes: [3], keepdims: 1 }),
      node('Max', [at('max'), C.tiny], [at('kept')], at('kept')),
      node('Div', [at('kept'), C.levels], [at('scale')], at('scale')),
      node('Transpose', [at('scale')], [`key_scale.${layer}`], at('scale_t'), { perm: [0, 1, 3, 2] }),
      node('Div', [`key.${layer}`, at('scale')], [at('scaled')], at('scaled')),
      node('Round', [at('scaled')], [at('rounded')], at('rounded')),
      // uint8 around 128: MatMulInteger reads a uint8 first operand with its zero point.
      node('Add', [at('rounded'), C.offset], [at('shifted')], at('shifted')),
      node('Cast', [at('shifted')], [`key_uint8.${layer}`], at('uint8'), { to: DT.UINT8 }),
    );
    inputs.push({ name: `key.${layer}`, type: tensorType(DT.FLOAT, 'rows', 'heads', 'positions', 'head_dim') });
    outputs.push({ name: `key_uint8.${layer}`, type: tensorType(DT.UINT8, 'rows', 'heads', 'positions', 'head_dim') }, { name: `key_scale.${layer}`, type: tensorType(DT.FLOAT, 'rows', 'heads', 1, 'positions') });
  }
  const graph = { name: 'whisper_cross_key_quantizer', node: nodes, input: inputs, output: outputs };
  return encodeModel(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph }));
}

/** The quantizer session for a decoder of `layers` layers (one per process and runtime options). */
export function loadCrossKeyQuantizer(layers: number, runtime?: RuntimeOptions): Promise<InferenceSession> {
  return loadSessionFromBytes(`whisper-cross-key-quantizer-${layers}`, () => crossKeyQuantizerModel(layers), runtime);
}
