/**
 * Rewrites the nodes of a model's main graph into a new file without decoding its weights: the nodes, inputs and
 * outputs (a few hundred kilobytes) are decoded and re-encoded, and every other field, initializers included, is
 * copied from the source file in chunks. A 2 GB model is rewritten with a few megabytes of memory, where a
 * decode-edit-encode round trip would hold its weights two or three times over.
 */
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { MoxingError } from '../../errors.js';
import { FileReader, MODEL_GRAPH, WIRE_LEN, WIRE_VARINT } from './attribute-scan.js';
import { onnx, type NodeProto } from './proto.js';

const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;

/** What an edit sees of the main graph: its nodes (to replace), its input and output names, its initializers' shapes. */
export interface GraphView {
  readonly nodes: readonly NodeProto[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Name → dims and ONNX data type of each initializer of the main graph (their data is not read). */
  readonly initializers: ReadonlyMap<string, { dims: number[]; dataType: number }>;
}

interface Field {
  readonly number: number;
  /** Byte range of the whole field, its key included. */
  readonly start: number;
  readonly end: number;
  /** Where its value starts (after the key and, for a length-delimited field, the length). */
  readonly value: number;
}

function varintBytes(value: number): Buffer {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

function lengthDelimited(number: number, body: Uint8Array): Buffer {
  return Buffer.concat([varintBytes(number * 8 + WIRE_LEN), varintBytes(body.length), body]);
}

/** The top-level fields of the message [start, end). */
function fieldsOf(reader: FileReader, start: number, end: number): Field[] {
  const fields: Field[] = [];
  reader.position = start;
  while (reader.position < end) {
    const fieldStart = reader.position;
    const key = reader.varint();
    let value = reader.position;
    if ((key & 7) === WIRE_LEN) {
      const length = reader.varint();
      value = reader.position;
      reader.position += length;
    } else reader.skip(key & 7);
    fields.push({ number: Math.floor(key / 8), start: fieldStart, end: reader.position, value });
  }
  if (reader.position !== end) throw new MoxingError('MODEL_INVALID', `a protobuf field overruns its message at byte ${end} of the ONNX file`);
  return fields;
}

function tensorHeader(reader: FileReader, field: Field): { name: string; dims: number[]; dataType: number } {
  const header = { name: '', dims: [] as number[], dataType: 0 };
  reader.position = field.value;
  reader.fields(field.end, (number, wire) => {
    if (number === TENSOR_NAME && wire === WIRE_LEN) header.name = reader.text(reader.varint());
    else if (number === TENSOR_DATA_TYPE && wire === WIRE_VARINT) header.dataType = reader.varint();
    else if (number === TENSOR_DIMS && wire === WIRE_VARINT) header.dims.push(reader.varint());
    else if (number === TENSOR_DIMS && wire === WIRE_LEN) {
      const end = reader.varint() + reader.position;
      while (reader.position < end) header.dims.push(reader.varint());
    }
  });
  return header;
}

function copyRange(from: number, to: number, start: number, end: number): void {
  const chunk = Buffer.alloc(Math.min(16 << 20, Math.max(1, end - start)));
  for (let at = start; at < end; ) {
    const read = readSync(from, chunk, 0, Math.min(chunk.length, end - at), at);
    if (read <= 0) throw new MoxingError('MODEL_INVALID', `the ONNX file ends at byte ${at}, inside a field`);
    writeSync(to, chunk, 0, read);
    at += read;
  }
}

/**
 * Writes to `out` the model at `path` with its main graph's nodes replaced by what `edit` returns; returns false
 * (and writes nothing) when `edit` returns undefined (nothing to change).
 */
export function rewriteGraphNodes(path: string, out: string, edit: (graph: GraphView) => NodeProto[] | undefined): boolean {
  const fd = openSync(path, 'r');
  try {
    const reader = new FileReader(fd, 0);
    const size = statSync(path).size;
    const top = fieldsOf(reader, 0, size);
    const graph = top.find((f) => f.number === MODEL_GRAPH);
    if (!graph) throw new MoxingError('MODEL_INVALID', `${path} has no graph`);
    const graphFields = fieldsOf(reader, graph.value, graph.end);
    const decode = <T>(f: Field, type: { decode(bytes: Uint8Array): T }) => type.decode(reader.bytes(f.value, f.end));
    const nodes = graphFields.filter((f) => f.number === GRAPH_NODE).map((f) => decode(f, onnx.NodeProto));
    const names = (n: number) => graphFields.filter((f) => f.number === n).map((f) => decode(f, onnx.ValueInfoProto).name ?? '');
    const initializers = new Map(graphFields.filter((f) => f.number === GRAPH_INITIALIZER).map((f) => tensorHeader(reader, f)).map(({ name, ...rest }) => [name, rest]));
    const edited = edit({ nodes, inputs: names(GRAPH_INPUT), outputs: names(GRAPH_OUTPUT), initializers });
    if (!edited) return false;
    const nodeBytes = Buffer.concat(edited.map((n) => lengthDelimited(GRAPH_NODE, onnx.NodeProto.encode(n).finish())));
    const kept = graphFields.filter((f) => f.number !== GRAPH_NODE);
    const graphLength = nodeBytes.length + kept.reduce((n, f) => n + f.end - f.start, 0);
    const target = openSync(out, 'w');
    try {
      for (const f of top) {
        if (f !== graph) {
          copyRange(fd, target, f.start, f.end);
          continue;
        }
        writeSync(target, Buffer.concat([varintBytes(MODEL_GRAPH * 8 + WIRE_LEN), varintBytes(graphLength), nodeBytes]));
        for (const k of kept) copyRange(fd, target, k.start, k.end);
      }
    } finally {
      closeSync(target);
    }
    return true;
  } finally {
    closeSync(fd);
  }
}
