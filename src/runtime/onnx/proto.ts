/** Small helpers over onnx-proto's generated protobufjs classes: tensors in and out, nodes, attributes. */
import onnxProto from 'onnx-proto';
import { MoxingError } from '../../errors.js';

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

const DT = onnx.TensorProto.DataType;

/** int64 fields arrive as protobufjs `Long`s (or numbers when created here). */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (value && typeof (value as { toNumber?: () => number }).toNumber === 'function') return (value as { toNumber(): number }).toNumber();
  return Number(value);
}

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

/** The float32 values of an initializer, or undefined when it is not float32. */
export function floatData(t: TensorProto): Float32Array | undefined {
  if (t.dataType !== DT.FLOAT) return undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new MoxingError('MODEL_INVALID', `initializer ${t.name} keeps its data in an external file, which quantize does not read yet: re-export the model with its weights inside the .onnx file`);
  }
  if (t.rawData && t.rawData.length > 0) {
    const bytes = Uint8Array.from(t.rawData); // an aligned copy (Buffer.slice would be a view)
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export function tensorProto(name: string, dims: readonly number[], data: Float32Array | Uint8Array | Int8Array): TensorProto {
  const dataType = data instanceof Float32Array ? DT.FLOAT : data instanceof Int8Array ? DT.INT8 : DT.UINT8;
  return onnx.TensorProto.create({ name, dims: [...dims], dataType, rawData: bytesOf(data) });
}

type AttrValue = number | readonly number[];

export function node(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attrs: Record<string, AttrValue> = {}, domain = ''): NodeProto {
  const attribute = Object.entries(attrs).map(([key, value]) =>
    typeof value === 'number'
      ? onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: value })
      : onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INTS, ints: [...value] }),
  );
  return onnx.NodeProto.create({ opType, input: [...inputs], output: [...outputs], name, attribute, domain });
}

/** A Constant node whose output `name` is the scalar `data[0]` (float32, uint8 or int8, as `data` is). */
export function scalarConstant(name: string, data: Float32Array | Uint8Array | Int8Array): NodeProto {
  const attribute = [onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: tensorProto(name, [], data.subarray(0, 1)) })];
  return onnx.NodeProto.create({ opType: 'Constant', output: [name], name, attribute });
}

/** A Constant node whose output `name` is the 1-D int64 tensor `values` (its `value_ints`). */
export function intsConstant(name: string, values: readonly number[]): NodeProto {
  const attribute = [onnx.AttributeProto.create({ name: 'value_ints', type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] })];
  return onnx.NodeProto.create({ opType: 'Constant', output: [name], name, attribute });
}

/** The integer values a Constant node outputs (`value_ints`, or an int64 `value` tensor); undefined for any other node. */
export function constantInts(n: NodeProto | undefined): number[] | undefined {
  if (n?.opType !== 'Constant') return undefined;
  const listed = intsAttr(n, 'value_ints');
  if (listed) return listed;
  const t = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
  if (t?.dataType !== DT.INT64) return undefined;
  if (t.rawData && t.rawData.length > 0) {
    const bytes = Buffer.from(t.rawData);
    return Array.from({ length: bytes.length / 8 }, (_, i) => Number(bytes.readBigInt64LE(i * 8)));
  }
  return (t.int64Data ?? []).map(toNumber);
}

export function intsAttr(n: NodeProto, name: string): number[] | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

export function intAttr(n: NodeProto, name: string): number | undefined {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a ? toNumber(a.i) : undefined;
}

/** Every graph of the model: the main one and each subgraph (If/Loop/Scan bodies), outermost first. */
export function* graphsOf(graph: GraphProto): Generator<GraphProto> {
  yield graph;
  for (const n of graph.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.g) yield* graphsOf(a.g);
      for (const g of a.graphs ?? []) yield* graphsOf(g);
    }
  }
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
