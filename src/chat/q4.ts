/**
 * q4 loading: MatMulNBits nodes rewritten to `accuracy_level = 4` before the session is made, so ORT quantizes
 * the activations to int8 and runs integer kernels on the same 4-bit weights (about 2× the decode speed of
 * level 0 on CPU; bench/chat.ts measures it and the logit change). Only graphs that keep their weights inside
 * the .onnx file are rewritten in memory; one with `_data` companions loads as it is.
 */
import { readFile } from 'node:fs/promises';
import { MoxingError } from '../errors.js';
import { decodeModel, encodeModel, graphsOf, onnx, type GraphProto, type ModelProto } from '../runtime/onnx/index.js';

export interface AccuracyRewrite {
  readonly bytes: Uint8Array;
  /** MatMulNBits nodes whose level changed. */
  readonly rewritten: number;
}

function hasExternalData(model: ModelProto): boolean {
  for (const graph of graphsOf(model.graph as GraphProto)) {
    for (const t of graph.initializer ?? []) if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return true;
  }
  return false;
}

/** The model at `path` with every MatMulNBits at `level`, or undefined when it holds external data. */
export async function withAccuracyLevel(path: string, level: number): Promise<AccuracyRewrite | undefined> {
  if (![0, 1, 2, 3, 4].includes(level)) throw new MoxingError('BAD_ARGUMENT', `the MatMulNBits accuracy level must be 0 to 4, got ${level}`);
  let model: ModelProto;
  try {
    model = decodeModel(await readFile(path));
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `${path} is not an ONNX model: ${(cause as Error).message}`, { cause });
  }
  if (hasExternalData(model)) return undefined;
  let rewritten = 0;
  for (const graph of graphsOf(model.graph as GraphProto)) {
    for (const n of graph.node ?? []) {
      if (n.opType !== 'MatMulNBits') continue;
      const attributes = (n.attribute ?? []).filter((a) => a.name !== 'accuracy_level');
      const old = (n.attribute ?? []).find((a) => a.name === 'accuracy_level');
      if (Number(old?.i ?? 0) !== level) rewritten++;
      attributes.push({ name: 'accuracy_level', type: onnx.AttributeProto.AttributeType.INT, i: level });
      n.attribute = attributes;
    }
  }
  return { bytes: encodeModel(model), rewritten };
}
