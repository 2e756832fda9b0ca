/**
 * A small ONNX graph builder over `onnx-proto`, for writing seeded random-weight test models.
 *
 * A `GraphBuilder` collects nodes, inputs, outputs and initializers; `Layers` adds the transformer pieces that
 * Whisper, ViT (DINOv2) and wav2vec2 share (linear, layer norm, GELU, multi-head attention with optional past
 * key/values); `Rng` draws the weights. Node and tensor names are deterministic, so the same calls always give
 * byte-identical files.
 *
 * ```ts
 * const rng = new Rng(1);
 * const g = new GraphBuilder('mlp');
 * const x = g.input('x', 'float32', ['batch_size', 16]);
 * const w = g.initializer('w', 'float32', [16, 4], rng.normal(64, 0.02));
 * g.output(g.op('Relu', [g.op('MatMul', [x, w])], {}, 'y'), 'float32', ['batch_size', 4]);
 * saveModel(modelProto(g.build()), 'mlp.onnx');
 * ```
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type ModelProto = onnxProto.onnx.IModelProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

/** Element types the builder writes. */
export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool';
/** One dimension: a fixed size, or a symbolic name (ONNX `dim_param`) such as `'batch_size'`. */
export type Dim = number | string;

const ELEM: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** Opset of the real Whisper exports; LayerNormalization needs at least 17. */
export const DEFAULT_OPSET = 17;
/** `torch.finfo(float32).min`, the additive mask value the torch exports use. */
export const MASK_MIN = -3.4028234663852886e38;

// ---------------------------------------------------------------------------------------------------------
// Random numbers

/** Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

let quantiles: Float32Array | undefined;

/** N(0, 1) at the 65536 mid-point quantiles: a uniform 16-bit index into it is a (finely discretised) normal draw. */
function normalTable(): Float32Array {
  if (!quantiles) {
    quantiles = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) quantiles[i] = normalQuantile((i + 0.5) / 65536);
  }
  return quantiles;
}

/**
 * A seeded PRNG (mulberry32). `normal()` draws two 16-bit normal quantiles per 32-bit output, so a base-sized
 * Whisper's ~70M weights take well under a second (Box-Muller took several).
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** `count` draws from N(mean, std²), written straight into a Float32Array. */
  normal(count: number, std: number, mean = 0): Float32Array {
    const table = normalTable();
    const out = new Float32Array(count);
    let state = this.state;
    for (let i = 0; i < count; i += 2) {
      // mulberry32, inlined: this loop fills every weight of a model.
      let t = (state = (state + 0x6d2b79f5) >>> 0);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      t = (t ^ (t >>> 14)) >>> 0;
      out[i] = mean + std * table[t & 0xffff];
      if (i + 1 < count) out[i + 1] = mean + std * table[t >>> 16];
    }
    this.state = state;
    return out;
  }

  /** A child generator whose stream depends only on this one's seed and `salt`: lets weights be drawn in any order. */
  fork(salt: string): Rng {
    let h = this.state ^ 0x9e3779b9;
    for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193) >>> 0;
    return new Rng(h);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tensors and attributes

type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array | readonly number[];

/** A TensorProto with its values in `raw_data` (little-endian, as on every machine we run on). */
export function tensor(name: string, dtype: DType, dims: readonly number[], data: TensorData): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  let typed: Float32Array | BigInt64Array | Int32Array | Uint8Array;
  if (Array.isArray(data)) {
    const values = data as readonly number[];
    if (dtype === 'float16') throw new Error(`tensor ${name}: float16 values must come as a Uint16Array of half-float bits`);
    if (dtype === 'float32') typed = Float32Array.from(values);
    else if (dtype === 'int64') typed = BigInt64Array.from(values, (v) => BigInt(v));
    else if (dtype === 'int32') typed = Int32Array.from(values);
    else typed = Uint8Array.from(values, (v) => (v ? 1 : 0));
  } else {
    typed = data as Float32Array | BigInt64Array | Int32Array | Uint8Array;
  }
  if (typed.length !== count) {
    throw new Error(`tensor ${name}: ${typed.length} values for dims [${dims.join(', ')}] (${count} expected)`);
  }
  return {
    name,
    dataType: ELEM[dtype],
    dims: [...dims],
    rawData: new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength),
  };
}

/** Typed attribute values: ONNX needs to know int from float, so the builder never guesses. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorProto }
  | { kind: 'graph'; value: GraphProto };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: TensorProto): Attr => ({ kind: 'tensor', value }),
  graph: (value: GraphProto): Attr => ({ kind: 'graph', value }),
};

const ATTR_TYPE = onnx.AttributeProto.AttributeType;

function attributeProto(name: string, a: Attr): AttributeProto {
  switch (a.kind) {
    case 'int':
      return { name, type: ATTR_TYPE.INT, i: a.value };
    case 'float':
      return { name, type: ATTR_TYPE.FLOAT, f: a.value };
    case 'ints':
      return { name, type: ATTR_TYPE.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: ATTR_TYPE.FLOATS, floats: [...a.value] };
    case 'string':
      return { name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: ATTR_TYPE.TENSOR, t: a.value };
    case 'graph':
      return { name, type: ATTR_TYPE.GRAPH, g: a.value };
  }
}

/** A ValueInfoProto for a graph input or output. */
export function valueInfo(name: string, dtype: DType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[dtype],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Graphs

export interface GraphBuilderOptions {
  /** Where initializers go: a subgraph (an `If` branch) puts them in its outer graph, as optimum's merge does. */
  initializerScope?: GraphBuilder;
}

/** Collects one graph. Node outputs get deterministic names `/<scope>/<op>_<n>`. */
export class GraphBuilder {
  readonly name: string;
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers = new Map<string, TensorProto>();
  private readonly scope: GraphBuilder;
  private readonly counts = new Map<string, number>();
  private readonly constants = new Map<string, string>();
  private prefix = '';

  constructor(name: string, options: GraphBuilderOptions = {}) {
    this.name = name;
    this.scope = options.initializerScope ?? this;
  }

  /** Runs `body` with node names prefixed by `/scope`, like the torch exporter's module paths. */
  within<T>(scope: string, body: () => T): T {
    const saved = this.prefix;
    this.prefix = `${saved}/${scope}`;
    try {
      return body();
    } finally {
      this.prefix = saved;
    }
  }

  /** Declares a graph input and returns its name. */
  input(name: string, dtype: DType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Declares `value` a graph output (adding an Identity when the value has another name). */
  output(value: string, dtype: DType, dims: readonly Dim[], name = value): string {
    if (value !== name) this.node('Identity', [value], {}, [name]);
    this.outputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /** Adds an initializer once (later calls with the same name reuse it) and returns its name. */
  initializer(name: string, dtype: DType, dims: readonly number[], data: TensorData): string {
    if (!this.scope.initializers.has(name)) this.scope.initializers.set(name, tensor(name, dtype, dims, data));
    return name;
  }

  /** Adds an existing TensorProto as an initializer (e.g. a weight shared by several graphs). */
  addInitializer(t: TensorProto): string {
    const name = t.name as string;
    if (!this.scope.initializers.has(name)) this.scope.initializers.set(name, t);
    return name;
  }

  /** A constant, emitted once per graph as a `Constant` node (as the torch exporter does). */
  constant(dtype: DType, dims: readonly number[], values: readonly number[]): string {
    const key = `${dtype}[${dims.join(',')}]${values.join(',')}`;
    const found = this.constants.get(key);
    if (found) return found;
    const name = this.fresh('Constant');
    this.nodes.push({
      opType: 'Constant',
      name,
      input: [],
      output: [`${name}_output_0`],
      attribute: [attributeProto('value', attr.tensor(tensor('', dtype, dims, values)))],
    });
    this.constants.set(key, `${name}_output_0`);
    return `${name}_output_0`;
  }

  /** A scalar int64 constant. */
  int64(value: number): string {
    return this.constant('int64', [], [value]);
  }

  /** A 1-D int64 constant. */
  int64s(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** A scalar float32 constant. */
  float(value: number): string {
    return this.constant('float32', [], [value]);
  }

  /**
   * Adds a node. `outputs` is a count (names are generated) or explicit names. Returns the output names.
   * `''` in `inputs` is an omitted optional input. `nodeName` overrides the generated node name.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, Attr> = {},
    outputs: number | readonly string[] = 1,
    domain = '',
    nodeName?: string,
  ): string[] {
    const name = nodeName ?? this.fresh(opType);
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `${name}_output_${i}`) : [...outputs];
    this.nodes.push({
      opType,
      name,
      domain,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attributes).map(([key, value]) => attributeProto(key, value)),
    });
    return outs;
  }

  /** Adds a one-output node and returns that output's name (or `output` when given). */
  op(opType: string, inputs: readonly string[], attributes: Record<string, Attr> = {}, output?: string): string {
    return this.node(opType, inputs, attributes, output === undefined ? 1 : [output])[0];
  }

  /** The finished GraphProto. */
  build(): GraphProto {
    return {
      name: this.name,
      node: this.nodes,
      input: this.inputs,
      output: this.outputs,
      initializer: this.scope === this ? [...this.initializers.values()] : [],
    };
  }

  private fresh(opType: string): string {
    const base = `${this.prefix}/${opType}`;
    const n = this.counts.get(base) ?? 0;
    this.counts.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  }
}

export interface ModelOptions {
  /** @default DEFAULT_OPSET (17) */
  opset?: number;
  /** @default 'pytorch' (what the real exports name) */
  producerName?: string;
  /** @default '1.13.0' */
  producerVersion?: string;
}

/** Wraps a graph in a ModelProto (IR version 8, default-domain opset). */
export function modelProto(graph: GraphProto, options: ModelOptions = {}): ModelProto {
  return {
    irVersion: 8,
    producerName: options.producerName ?? 'pytorch',
    producerVersion: options.producerVersion ?? '1.13.0',
    opsetImport: [{ domain: '', version: options.opset ?? DEFAULT_OPSET }],
    graph,
  };
}

/** Serialises a model to bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/**
 * Writes a model to `path`, creating its folder: the same bytes as `encodeModel`, streamed one initializer at a
 * time, so a 2 GB model is never held twice (protobuf has each field written in declaration order: the model's
 * fields before `graph`, then the graph as node, name, initializers, the rest; then the model's later fields).
 */
export function saveModel(model: ModelProto, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const { graph, opsetImport, metadataProps, trainingInfo, functions, ...head } = model;
  const { node, name, initializer, ...graphRest } = graph ?? {};
  const graphHead = onnx.GraphProto.encode(onnx.GraphProto.create({ node, name })).finish();
  const graphTail = onnx.GraphProto.encode(onnx.GraphProto.create(graphRest)).finish();
  const tensors = initializer ?? [];
  const tensorSizes = tensors.map((t) => onnx.TensorProto.encode(onnx.TensorProto.create(t)).len);
  const graphLength = graphHead.length + graphTail.length + tensorSizes.reduce((sum, size) => sum + 1 + varint(size).length + size, 0);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, onnx.ModelProto.encode(onnx.ModelProto.create(head)).finish());
    if (graph) {
      writeSync(fd, Buffer.from([58, ...varint(graphLength)])); // field 7, length-delimited
      writeSync(fd, graphHead);
      tensors.forEach((t, i) => {
        writeSync(fd, Buffer.from([42, ...varint(tensorSizes[i])])); // field 5, length-delimited
        writeSync(fd, onnx.TensorProto.encode(onnx.TensorProto.create(t)).finish());
      });
      writeSync(fd, graphTail);
    }
    writeSync(fd, onnx.ModelProto.encode(onnx.ModelProto.create({ opsetImport, metadataProps, trainingInfo, functions })).finish());
  } finally {
    closeSync(fd);
  }
}

/** A protobuf base-128 varint (lengths beyond 32 bits included). */
function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

/** Parses a model file's bytes (for tests that inspect a graph). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
