/**
 * A float32 test graph turned into its float16 twin, as an `_fp16` export is made from the float32 one
 * (onnxconverter-common's `convert_float_to_float16`, which transformers.js's quantize script runs): every float
 * initializer and Constant becomes float16 (values past the half range clamp to ±65504, as torch's float16 mask
 * value is finite), every Cast to float casts to float16, and each float graph input and output either becomes
 * float16 or, named in `keepFloat32`, stays float32 behind a Cast at the boundary.
 */
import onnxProto from 'onnx-proto';
import { float32ToFloat16 } from '../../src/runtime/float16.js';
import type { ModelProto, TensorProto } from './onnx-builder.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const HALF_MAX = 65504;

function floatValues(t: TensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) return new Float32Array(Uint8Array.from(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

function halfTensor(t: TensorProto): TensorProto {
  if (t.dataType !== FLOAT) return t;
  const values = floatValues(t).map((v) => Math.min(HALF_MAX, Math.max(-HALF_MAX, v)));
  const bits = float32ToFloat16(values);
  return { name: t.name, dims: t.dims, dataType: FLOAT16, rawData: new Uint8Array(bits.buffer) };
}

export interface Float16Options {
  /** Float graph inputs and outputs that stay float32 (the rest become float16). */
  keepFloat32?: readonly string[];
}

export function toFloat16(model: ModelProto, options: Float16Options = {}): ModelProto {
  const graph = model.graph ?? {};
  const keep = new Set(options.keepFloat32 ?? []);
  const isFloat = (v: onnxProto.onnx.IValueInfoProto) => v.type?.tensorType?.elemType === FLOAT;
  const retyped = (v: onnxProto.onnx.IValueInfoProto, elemType: number) => ({ ...v, type: { tensorType: { ...v.type?.tensorType, elemType } } });
  const renamed = new Map<string, string>();
  const head: onnxProto.onnx.INodeProto[] = [];
  const tail: onnxProto.onnx.INodeProto[] = [];
  const inputs = (graph.input ?? []).map((v) => {
    if (!isFloat(v)) return v;
    if (!keep.has(v.name as string)) return retyped(v, FLOAT16);
    const half = `${v.name}_fp16`;
    renamed.set(v.name as string, half);
    head.push({ opType: 'Cast', name: `${half}_cast`, input: [v.name as string], output: [half], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT16 }] });
    return v;
  });
  const producedAs = new Map<string, string>();
  const outputs = (graph.output ?? []).map((v) => {
    if (!isFloat(v)) return v;
    if (!keep.has(v.name as string)) return retyped(v, FLOAT16);
    const half = `${v.name}_fp16`;
    producedAs.set(v.name as string, half);
    tail.push({ opType: 'Cast', name: `${half}_cast`, input: [half], output: [v.name as string], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] });
    return v;
  });
  const nodes = (graph.node ?? []).map((node) => ({
    ...node,
    input: (node.input ?? []).map((name) => renamed.get(name) ?? producedAs.get(name) ?? name),
    output: (node.output ?? []).map((name) => producedAs.get(name) ?? name),
    attribute: (node.attribute ?? []).map((a) => {
      if (node.opType === 'Cast' && a.name === 'to' && Number(String(a.i)) === FLOAT) return { ...a, i: FLOAT16 };
      if (node.opType === 'Constant' && a.t) return { ...a, t: halfTensor(a.t) };
      return a;
    }),
  }));
  return {
    ...model,
    graph: { ...graph, node: [...head, ...nodes, ...tail], input: inputs, output: outputs, initializer: (graph.initializer ?? []).map(halfTensor), valueInfo: [] },
  };
}
