/**
 * ONNX graph files: decode, read and build nodes, attributes and tensors, encode. Used by the quantizer and
 * the VAD's graph rewrite. Not re-exported by `runtime/index.ts`: loading onnx-proto costs about 70 ms, which
 * code that only runs sessions should not pay.
 */
export { onnx, decodeModel, encodeModel, dimsOf, floatData, tensorProto, node, intAttr, intsAttr, intsConstant, scalarConstant, constantInts, graphsOf } from './proto.js';
export type { ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from './proto.js';
export { GraphIndex, UniqueNames, nodeProducers, nodeReaders, pruneUnused } from './graph-index.js';
export type { Owned } from './graph-index.js';
