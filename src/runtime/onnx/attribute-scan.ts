/**
 * Finds an integer attribute of some nodes in an ONNX file without decoding the model: the protobuf is walked
 * from the file with positioned reads, and every initializer (the bulk of the bytes) is skipped unread. Used
 * to patch a 1-byte attribute value in place (MatMulNBits' accuracy_level) on a copy of a q4 model, where a
 * decode-edit-encode round trip would hold the weights in memory two or three times over.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { MoxingError } from '../../errors.js';

/** One node of the wanted op type, and where its attribute's integer value lies in the file. */
export interface AttributeSite {
  /** File offset of the attribute's varint value, when the node has the attribute. */
  readonly offset?: number;
  /** Bytes of that varint. */
  readonly length?: number;
  /** The value, when the node has the attribute. */
  readonly value?: number;
}

export const WIRE_VARINT = 0;
const WIRE_I64 = 1;
export const WIRE_LEN = 2;
const WIRE_I32 = 5;

// Field numbers of onnx.proto3.
export const MODEL_GRAPH = 7;
export const GRAPH_NODE = 1;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_INT = 3;
const ATTRIBUTE_GRAPH = 6;
const ATTRIBUTE_GRAPHS = 11;

/** A forward reader over a file through a small window (positioned reads: nothing else is held). */
export class FileReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly fd: number,
    public position: number,
  ) {}

  private ensure(bytes: number): void {
    if (this.position >= this.windowStart && this.position + bytes <= this.windowStart + this.window.length) return;
    const size = Math.max(bytes, 1 << 16);
    const buffer = Buffer.alloc(size);
    const read = readSync(this.fd, buffer, 0, size, this.position);
    if (read < bytes) throw new MoxingError('MODEL_INVALID', `the ONNX file ends inside a field at byte ${this.position}`);
    this.window = buffer.subarray(0, read);
    this.windowStart = this.position;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      this.ensure(1);
      const byte = this.window[this.position - this.windowStart];
      this.position++;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new MoxingError('MODEL_INVALID', `a malformed varint at byte ${this.position} of the ONNX file`);
  }

  text(length: number): string {
    this.ensure(length);
    const start = this.position - this.windowStart;
    this.position += length;
    return this.window.toString('utf8', start, start + length);
  }

  /** The bytes [start, end) of the file (a small message: a node, a value info). */
  bytes(start: number, end: number): Buffer {
    const out = Buffer.alloc(end - start);
    if (readSync(this.fd, out, 0, out.length, start) !== out.length) throw new MoxingError('MODEL_INVALID', `the ONNX file ends inside a field at byte ${start}`);
    return out;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.position += 8;
    else if (wire === WIRE_I32) this.position += 4;
    else if (wire === WIRE_LEN) {
      const length = this.varint();
      this.position += length;
    }
    else throw new MoxingError('MODEL_INVALID', `an unsupported protobuf wire type ${wire} at byte ${this.position} of the ONNX file`);
  }

  /** Calls `field` for each field up to `end`; `field` reads or skips the field's value itself. */
  fields(end: number, field: (number: number, wire: number) => void): void {
    while (this.position < end) {
      const key = this.varint();
      const start = this.position;
      field(Math.floor(key / 8), key & 7);
      if (this.position === start) this.skip(key & 7);
    }
    if (this.position !== end) throw new MoxingError('MODEL_INVALID', `a protobuf field overruns its message at byte ${end} of the ONNX file`);
  }
}

/**
 * Every node of type `opType` in the model at `path` (its main graph and the subgraphs of If/Loop nodes), with
 * the place of its integer attribute `attribute`.
 */
export function scanIntAttribute(path: string, opType: string, attribute: string, fileSize: number): AttributeSite[] {
  const fd = openSync(path, 'r');
  try {
    const reader = new FileReader(fd, 0);
    const sites: AttributeSite[] = [];
    const graph = (end: number) =>
      reader.fields(end, (number, wire) => {
        if (number === GRAPH_NODE && wire === WIRE_LEN) node(reader.varint() + reader.position);
      });
    const node = (end: number) => {
      let type = '';
      let site: AttributeSite = {};
      reader.fields(end, (number, wire) => {
        if (number === NODE_OP_TYPE && wire === WIRE_LEN) type = reader.text(reader.varint());
        else if (number === NODE_ATTRIBUTE && wire === WIRE_LEN) site = attributeOf(reader.varint() + reader.position) ?? site;
      });
      if (type === opType) sites.push(site);
    };
    const attributeOf = (end: number): AttributeSite | undefined => {
      let name = '';
      let value: AttributeSite = {};
      reader.fields(end, (number, wire) => {
        if (number === ATTRIBUTE_NAME && wire === WIRE_LEN) name = reader.text(reader.varint());
        else if (number === ATTRIBUTE_INT && wire === WIRE_VARINT) {
          const offset = reader.position;
          const read = reader.varint();
          value = { offset, length: reader.position - offset, value: read };
        } else if ((number === ATTRIBUTE_GRAPH || number === ATTRIBUTE_GRAPHS) && wire === WIRE_LEN) graph(reader.varint() + reader.position);
      });
      return name === attribute ? value : undefined;
    };
    reader.fields(fileSize, (number, wire) => {
      if (number === MODEL_GRAPH && wire === WIRE_LEN) graph(reader.varint() + reader.position);
    });
    return sites;
  } finally {
    closeSync(fd);
  }
}
