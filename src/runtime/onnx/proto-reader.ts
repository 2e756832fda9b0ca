/**
 * Reads an ONNX file's protobuf from disk with positioned reads through a small window, so that a walk over its
 * fields (stream-rewrite.ts) skips the initializers (the bulk of the bytes) without reading them.
 */
import { readSync } from 'node:fs';
import { MoxingError } from '../../errors.js';

export const WIRE_VARINT = 0;
const WIRE_I64 = 1;
export const WIRE_LEN = 2;
const WIRE_I32 = 5;

// Field numbers of onnx.proto3.
export const MODEL_GRAPH = 7;
export const GRAPH_NODE = 1;

const WINDOW_BYTES = 1 << 16;

/** A forward reader over a file through a small window (positioned reads: nothing else is held). */
export class FileReader {
  private buffer = Buffer.allocUnsafe(WINDOW_BYTES);
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly fd: number,
    public position: number,
  ) {}

  private ensure(bytes: number): void {
    if (this.position >= this.windowStart && this.position + bytes <= this.windowStart + this.window.length) return;
    // One buffer refilled at each move: a walk over a model's fields moves the window thousands of times, and a
    // new 64 KiB buffer each time left tens of megabytes for the collector while the session loaded.
    if (this.buffer.length < bytes) this.buffer = Buffer.allocUnsafe(Math.max(bytes, WINDOW_BYTES));
    const read = readSync(this.fd, this.buffer, 0, this.buffer.length, this.position);
    if (read < bytes) throw new MoxingError('MODEL_INVALID', `the ONNX file ends inside a field at byte ${this.position}`);
    this.window = this.buffer.subarray(0, read);
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
