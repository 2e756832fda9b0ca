/** NumPy `.npy` (format 1.0) for float32 matrices: what `moxing embed --format npy` writes and numpy.load reads. */
import { MoxingError } from '../errors.js';

/** Encodes row vectors of equal length as a little-endian float32 array of shape [rows, dim]. */
export function encodeNpy(rows: readonly Float32Array[]): Buffer {
  const dim = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== dim)) throw new MoxingError('BAD_ARGUMENT', 'npy rows must all have the same length');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${dim}), }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces and ending in \n, to 64 bytes.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + rows.length * dim * 4);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  let offset = 10 + header.length;
  for (const r of rows) {
    for (let j = 0; j < dim; j++, offset += 4) out.writeFloatLE(r[j], offset);
  }
  return out;
}

/** Decodes what encodeNpy writes (2-D little-endian float32, C order). */
export function decodeNpy(bytes: Uint8Array): { shape: [number, number]; rows: Float32Array[] } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new MoxingError('BAD_ARGUMENT', 'not an .npy file');
  const headerLength = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLength);
  const shape = /'shape': \((\d+), (\d+)\)/.exec(header);
  if (!header.includes("'<f4'") || !shape) throw new MoxingError('BAD_ARGUMENT', `unsupported .npy header: ${header.trim()}`);
  const [n, d] = [Number(shape[1]), Number(shape[2])];
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = new Float32Array(d);
    for (let j = 0; j < d; j++) row[j] = buf.readFloatLE(10 + headerLength + (i * d + j) * 4);
    rows.push(row);
  }
  return { shape: [n, d], rows };
}
