/**
 * ONNX graphs over 2 GB keep their weights in companion files (`encoder_model.onnx_data`). The graph names
 * them in TensorProto.external_data entries `{ key: "location", value: <file> }`; reading those names from
 * the graph is exact, where guessing from a repo listing is not (some repos keep stale `_data` files beside
 * self-contained graphs).
 */
import { createReadStream } from 'node:fs';

// StringStringEntryProto: field 1 (key) = "location", then field 2 (value) as a length-delimited string.
const MARKER = Buffer.from([0x0a, 0x08, ...Buffer.from('location'), 0x12]);
const MAX_NAME = 4096;

/** The external-data file names a graph refers to (relative to its folder), in first-seen order. */
export async function externalDataFiles(graphPath: string): Promise<string[]> {
  const found = new Set<string>();
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(graphPath, { highWaterMark: 4 << 20 })) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let keepFrom = Math.max(0, buf.length - (MARKER.length + 2 + MAX_NAME));
    let at = buf.indexOf(MARKER);
    while (at !== -1) {
      const parsed = readString(buf, at + MARKER.length);
      if (parsed === 'short') {
        keepFrom = Math.min(keepFrom, at);
        break;
      }
      if (parsed !== undefined) found.add(parsed);
      at = buf.indexOf(MARKER, at + 1);
    }
    carry = buf.subarray(keepFrom);
  }
  return [...found];
}

/** A varint length and that many bytes of a plausible file name; 'short' when the buffer ends first. */
function readString(buf: Buffer, start: number): string | undefined | 'short' {
  let length = 0;
  let shift = 0;
  let i = start;
  for (;;) {
    if (i >= buf.length) return 'short';
    const byte = buf[i++];
    length |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
    if (shift > 21) return undefined;
  }
  if (length === 0 || length > MAX_NAME) return undefined;
  if (i + length > buf.length) return 'short';
  const name = buf.toString('utf8', i, i + length);
  return /^[^\0/\\][^\0]*$/.test(name) && !name.includes('..') ? name : undefined;
}
