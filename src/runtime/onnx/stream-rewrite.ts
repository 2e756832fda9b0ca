/**
 * Rewrites the nodes of a model's main graph into a new file without decoding its weights: the nodes, inputs and
 * outputs (a few hundred kilobytes) are decoded and re-encoded, and every other field, initializers included, is
 * copied from the source file in chunks. A 2 GB model is rewritten with a few megabytes of memory, where a
 * decode-edit-encode round trip would hold its weights two or three times over. The weights may also move to a
 * side file at 64 KiB-aligned offsets, which ONNX Runtime maps rather than reads: pages of a table that are never
 * touched (most rows of an embedding) and weights that a kernel prepacks into its own copy then stay out of the
 * process's resident memory.
 */
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { MoxingError } from '../../errors.js';
import { FileReader, GRAPH_NODE, MODEL_GRAPH, WIRE_LEN, WIRE_VARINT } from './proto-reader.js';
import { onnx, type NodeProto, type ValueInfoProto } from './proto.js';

const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;

/** What an edit sees of the main graph: its nodes (to replace), its input and output names, its initializers' shapes. */
export interface GraphView {
  readonly nodes: readonly NodeProto[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Name → dims and ONNX data type of each initializer of the main graph (their data is not read). */
  readonly initializers: ReadonlyMap<string, { dims: number[]; dataType: number }>;
  /**
   * A second initializer name for the data of `name`, when that data ends up outside the .onnx file (the side file
   * or a `_data` companion); else `name` itself. ONNX Runtime maps each initializer on its own: a kernel that
   * prepacks the alias gets it released and unmapped after packing, while the original's mapping keeps only the
   * pages its other readers touch (a tied embedding read by a Gather and by the LM head).
   */
  alias(name: string): string;
  /** Declares one more input of the main graph (a value the edited nodes read that the model did not take). */
  addInput(input: ValueInfoProto): void;
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

interface TensorHeader {
  name: string;
  dims: number[];
  dataType: number;
  /** Bytes of its raw_data (0 when its data is elsewhere). */
  rawBytes: number;
  /** Its data is in an external file already. */
  external: boolean;
}

function tensorHeader(reader: FileReader, field: Field): TensorHeader {
  const header: TensorHeader = { name: '', dims: [], dataType: 0, rawBytes: 0, external: false };
  reader.position = field.value;
  reader.fields(field.end, (number, wire) => {
    if (number === TENSOR_NAME && wire === WIRE_LEN) header.name = reader.text(reader.varint());
    else if (number === TENSOR_DATA_TYPE && wire === WIRE_VARINT) header.dataType = reader.varint();
    else if (number === TENSOR_DIMS && wire === WIRE_VARINT) header.dims.push(reader.varint());
    else if (number === TENSOR_DIMS && wire === WIRE_LEN) {
      const end = reader.varint() + reader.position;
      while (reader.position < end) header.dims.push(reader.varint());
    } else if (number === TENSOR_RAW_DATA && wire === WIRE_LEN) {
      header.rawBytes = reader.varint();
      reader.position += header.rawBytes;
    } else if (number === TENSOR_DATA_LOCATION && wire === WIRE_VARINT) header.external = reader.varint() === 1;
  });
  return header;
}

/**
 * One copy buffer for a whole rewrite: a buffer per field left hundreds of megabytes for the collector, and any
 * buffer is garbage the collector may free only after the session's load has reached its peak. 1 MB copies as fast.
 */
class Copier {
  private readonly chunk = Buffer.allocUnsafe(1 << 20);

  copy(from: number, to: number, start: number, end: number): void {
    for (let at = start; at < end; ) {
      const read = readSync(from, this.chunk, 0, Math.min(this.chunk.length, end - at), at);
      if (read <= 0) throw new MoxingError('MODEL_INVALID', `the ONNX file ends at byte ${at}, inside a field`);
      writeSync(to, this.chunk, 0, read);
      at += read;
    }
  }
}

/** Moving the main graph's weights out of the .onnx file into a side file, as `_data` companions are. */
export interface ExternalDataOptions {
  /** The side file, in the folder of the rewritten model (which names it by its base name). */
  readonly file: string;
  /** Initializers with fewer bytes stay inline. @default 4096 */
  readonly minBytes?: number;
}

/** Where each piece of data begins in the side file: ORT maps the file instead of reading it when aligned so. */
const EXTERNAL_ALIGNMENT = 65536;
const ALIGNMENT_PADDING = Buffer.alloc(EXTERNAL_ALIGNMENT);

type Piece = { start: number; end: number } | Buffer;

/** A side-file writer: copies raw-data ranges of the source at aligned offsets. */
class SideFile {
  private offset = 0;

  constructor(
    private readonly fd: number,
    readonly name: string,
    private readonly copier: Copier,
  ) {}

  append(source: number, start: number, end: number): number {
    const at = Math.ceil(this.offset / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
    // Padding from one zeroed buffer: a new one per weight was up to 64 KiB of garbage each, hundreds of them.
    if (at > this.offset) writeSync(this.fd, ALIGNMENT_PADDING, 0, at - this.offset);
    this.copier.copy(source, this.fd, start, end);
    this.offset = at + end - start;
    return at;
  }
}

/** An initializer field with its raw data moved to `side`, or the field as it is. */
function externalized(reader: FileReader, source: number, field: Field, side: SideFile, minBytes: number): Piece {
  const parts = fieldsOf(reader, field.value, field.end);
  const raw = parts.find((p) => p.number === TENSOR_RAW_DATA);
  if (!raw || !movesOut(raw.end - raw.value, minBytes) || parts.some((p) => p.number === TENSOR_DATA_LOCATION || p.number === TENSOR_EXTERNAL_DATA)) return { start: field.start, end: field.end };
  const offset = side.append(source, raw.value, raw.end);
  const entry = (key: string, value: string) => lengthDelimited(TENSOR_EXTERNAL_DATA, Buffer.concat([lengthDelimited(1, Buffer.from(key)), lengthDelimited(2, Buffer.from(value))]));
  const body = Buffer.concat([
    ...parts.filter((p) => p !== raw).map((p) => reader.bytes(p.start, p.end)),
    entry('location', side.name),
    entry('offset', String(offset)),
    entry('length', String(raw.end - raw.value)),
    varintBytes(TENSOR_DATA_LOCATION * 8 + WIRE_VARINT),
    varintBytes(1),
  ]);
  return lengthDelimited(GRAPH_INITIALIZER, body);
}

const movesOut = (rawBytes: number, minBytes: number) => rawBytes >= minBytes;

/** An initializer named `alias` whose data is that of `source`, an initializer field whose data is in a file (a small message). */
function aliasField(source: Uint8Array, alias: string): Buffer {
  const tensor = onnx.GraphProto.decode(source).initializer?.[0];
  if (!tensor) throw new MoxingError('INTERNAL', `no initializer to alias as ${alias}`);
  tensor.name = alias;
  return lengthDelimited(GRAPH_INITIALIZER, onnx.TensorProto.encode(tensor).finish());
}

const pieceLength = (p: Piece) => (Buffer.isBuffer(p) ? p.length : p.end - p.start);

/**
 * Writes to `out` the model at `path` with its main graph's nodes replaced by what `edit` returns (and, with
 * `externalData`, its weights moved to a side file); returns false (and writes nothing) when `edit` returns
 * undefined (nothing to change).
 */
export function rewriteGraphNodes(path: string, out: string, edit: (graph: GraphView) => NodeProto[] | undefined, options: { externalData?: ExternalDataOptions } = {}): boolean {
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
    const headers = graphFields.filter((f) => f.number === GRAPH_INITIALIZER).map((f) => ({ field: f, ...tensorHeader(reader, f) }));
    const initializers = new Map(headers.map(({ name, dims, dataType }) => [name, { dims, dataType }]));
    const external = options.externalData;
    const minBytes = external?.minBytes ?? 4096;
    const aliases = new Map<string, string>();
    const alias = (name: string) => {
      const header = headers.find((h) => h.name === name);
      if (!header || !(header.external || (external && movesOut(header.rawBytes, minBytes)))) return name;
      const made = `${name}_moxing_alias${aliases.size}`;
      aliases.set(made, name);
      initializers.set(made, initializers.get(name)!);
      return made;
    };
    const added: ValueInfoProto[] = [];
    const inputs = names(GRAPH_INPUT);
    const addInput = (input: ValueInfoProto) => {
      if (inputs.includes(input.name ?? '') || added.some((a) => a.name === input.name)) throw new MoxingError('INTERNAL', `the graph already has an input ${input.name}`);
      added.push(input);
    };
    const edited = edit({ nodes, inputs, outputs: names(GRAPH_OUTPUT), initializers, alias, addInput });
    if (!edited) return false;
    const nodeBytes = Buffer.concat(edited.map((n) => lengthDelimited(GRAPH_NODE, onnx.NodeProto.encode(n).finish())));
    const copier = new Copier();
    const sideFd = external ? openSync(external.file, 'w') : undefined;
    let pieces: Piece[];
    try {
      const side = sideFd === undefined ? undefined : new SideFile(sideFd, basename(external!.file), copier);
      pieces = graphFields
        .filter((f) => f.number !== GRAPH_NODE)
        .map((f) => (side && f.number === GRAPH_INITIALIZER ? externalized(reader, fd, f, side, minBytes) : { start: f.start, end: f.end }));
    } finally {
      if (sideFd !== undefined) closeSync(sideFd);
    }
    // An alias is its source's field (its data now in a file) under another name.
    const kept = graphFields.filter((f) => f.number !== GRAPH_NODE);
    for (const [made, name] of aliases) {
      const piece = pieces[kept.indexOf(headers.find((h) => h.name === name)!.field)];
      pieces.push(aliasField(Buffer.isBuffer(piece) ? piece : reader.bytes(piece.start, piece.end), made));
    }
    // After the model's own inputs: a repeated field keeps its order, so theirs do not move.
    for (const input of added) pieces.push(lengthDelimited(GRAPH_INPUT, onnx.ValueInfoProto.encode(input).finish()));
    const graphLength = nodeBytes.length + pieces.reduce((n, p) => n + pieceLength(p), 0);
    const target = openSync(out, 'w');
    try {
      for (const f of top) {
        if (f !== graph) {
          copier.copy(fd, target, f.start, f.end);
          continue;
        }
        writeSync(target, Buffer.concat([varintBytes(MODEL_GRAPH * 8 + WIRE_LEN), varintBytes(graphLength), nodeBytes]));
        for (const p of pieces) {
          if (Buffer.isBuffer(p)) writeSync(target, p);
          else copier.copy(fd, target, p.start, p.end);
        }
      }
    } finally {
      closeSync(target);
    }
    return true;
  } finally {
    closeSync(fd);
  }
}
