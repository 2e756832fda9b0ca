/**
 * ONNX building blocks of the VAD's sequence graph: a node/initializer collector, and Silero's STFT as one MatMul
 * over a batch of frames.
 *
 * ORT's CPU Conv runs one GEMM per batch item; for the STFT that is [258 x 256] times one frame's 4 windows,
 * where the GEMM kernel's 16-wide column panels run mostly empty. Cutting every frame into its windows first
 * makes it one GEMM of 4N rows, about twice as fast. Its right-hand side is constant, so ORT prepacks it and MLAS
 * sums each dot product over K = 256 in one pass, in the Conv's order: the magnitudes are bit-identical to the
 * file's (tested through the probabilities).
 *
 * The encoder's Conv1d layers stay ORT Convs. Rewritten the same way (im2col columns of many frames per GEMM)
 * they ran faster alone, but their K = 384-387 sums were split into blocks and the LSTM carried the rounding into
 * probabilities 3e-5 away from the file's on 10 min of speech; keeping MLAS's single pass needs <= 32 columns per
 * GEMM, and the transposes that grouping takes cost what the GEMMs saved.
 */
import { onnx, tensorProto, type NodeProto, type TensorProto } from '../../runtime/onnx/index.js';

const INT64 = onnx.TensorProto.DataType.INT64;
const ATTR = onnx.AttributeProto.AttributeType;
/** Slice's "to the end" (ONNX clamps ends to the axis length). */
const TO_END = Number.MAX_SAFE_INTEGER;

/** Nodes and initializers of a graph under construction, with unique names. */
export class GraphParts {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private count = 0;

  constructor(private readonly prefix: string) {}

  /** Adds a node and returns its first output's name. */
  add(opType: string, inputs: readonly string[], attrs: Record<string, number | string | readonly number[]> = {}, outputs?: readonly string[]): string {
    const name = `${this.prefix}/${opType}_${this.count++}`;
    const outs = outputs ?? [`${name}:0`];
    const attribute = Object.entries(attrs).map(([key, value]) =>
      typeof value === 'number'
        ? { name: key, type: ATTR.INT, i: value }
        : typeof value === 'string'
          ? { name: key, type: ATTR.STRING, s: new TextEncoder().encode(value) }
          : { name: key, type: ATTR.INTS, ints: [...value] },
    );
    this.nodes.push(onnx.NodeProto.create({ opType, input: [...inputs], output: [...outs], name, attribute }));
    return outs[0];
  }

  float(data: Float32Array, dims: readonly number[]): string {
    const name = `${this.prefix}/const_${this.count++}`;
    this.initializers.push(tensorProto(name, dims, data));
    return name;
  }

  ints(values: readonly number[]): string {
    const name = `${this.prefix}/const_${this.count++}`;
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push(onnx.TensorProto.create({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) }));
    return name;
  }

  /** x[start:end:step] on `axis`; a negative `end` counts from the axis end, 0 means "to the end". */
  slice(x: string, axis: number, start: number, end: number, step = 1): string {
    return this.add('Slice', [x, this.ints([start]), this.ints([end === 0 ? TO_END : end]), this.ints([axis]), this.ints([step])]);
  }
}

/**
 * Silero's STFT magnitude: a Conv1d of `basis` [2F, 1, K] (F real rows, then F imaginary ones) with stride `hop`,
 * then sqrt(re² + im²). `x` [N, L] with L and K multiples of `hop` -> [N, F, T], the Conv's layout.
 */
export function stftMagnitude(parts: GraphParts, x: string, basis: Float32Array, dims: readonly number[], hop: number): string {
  const [rows, , kernel] = dims;
  const blocks = parts.add('Reshape', [x, parts.ints([0, -1, hop])]);
  const weight = parts.float(transpose(basis, rows, kernel), [kernel, rows]);
  // A window of K samples is K / hop consecutive blocks.
  const span = kernel / hop;
  const taps = Array.from({ length: span }, (_, j) => parts.slice(blocks, 1, j, j - (span - 1)));
  const windows = span > 1 ? parts.add('Concat', taps, { axis: 2 }) : taps[0];
  const spectrum = parts.add('MatMul', [windows, weight]);
  const half = rows / 2;
  const [re, im] = [parts.slice(spectrum, 2, 0, half), parts.slice(spectrum, 2, half, 0)];
  const power = parts.add('Add', [parts.add('Mul', [re, re]), parts.add('Mul', [im, im])]);
  return parts.add('Transpose', [parts.add('Sqrt', [power])], { perm: [0, 2, 1] });
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
