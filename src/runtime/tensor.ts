/** Small helpers over ort.Tensor so model code reads as shapes, not constructor calls. */
import * as ort from 'onnxruntime-node';

export type Tensor = ort.Tensor;
export const Tensor = ort.Tensor;

export function float32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64(values: ArrayLike<number> | BigInt64Array, dims: readonly number[]): ort.Tensor {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return new ort.Tensor('int64', data, dims);
}

export function bool(values: readonly boolean[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('bool', Uint8Array.from(values, (v) => (v ? 1 : 0)), dims);
}

/** An empty float32 tensor with one zero-length axis, as the merged decoder's first step expects for past KV. */
export function emptyFloat32(dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(0), dims);
}

/** Copy of row `row` of a [rows, ...rest] float32 tensor's data. */
export function rowOf(tensor: ort.Tensor, row: number): Float32Array {
  const size = tensor.data.length / tensor.dims[0];
  return (tensor.data as Float32Array).slice(row * size, (row + 1) * size);
}

/** Shape metadata of a session's inputs, keyed by name (ORT >= 1.22 exposes it). */
export function inputShapes(session: ort.InferenceSession): Map<string, readonly (number | string)[]> {
  const shapes = new Map<string, readonly (number | string)[]>();
  for (const meta of session.inputMetadata ?? []) {
    if (meta.isTensor) shapes.set(meta.name, meta.shape);
  }
  return shapes;
}

/** One Float32Array holding `parts` one after another (a tensor's data gathered from pieces). */
export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
