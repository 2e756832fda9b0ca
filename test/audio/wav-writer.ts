/** Writes WAV files of every layout the decoder must read, for the audio tests. Values are already in the target domain. */

export type WavEncoding = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64';

export interface WavSpec {
  readonly encoding: WavEncoding;
  readonly channels: number;
  readonly sampleRate: number;
  /** Write a WAVE_FORMAT_EXTENSIBLE fmt chunk. */
  readonly extensible?: boolean;
  /** Extra chunks placed between fmt and data (an odd size exercises the pad byte). */
  readonly extraChunks?: ReadonlyArray<{ id: string; body: Uint8Array }>;
}

const BITS: Record<WavEncoding, number> = { u8: 8, s16: 16, s24: 24, s32: 32, f32: 32, f64: 64 };

function chunk(id: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length & 1));
  out.set(Buffer.from(id, 'ascii'));
  new DataView(out.buffer).setUint32(4, body.length, true);
  out.set(body, 8);
  return out;
}

/** `interleaved` holds frames × channels values: unsigned ints for u8, signed ints for s*, floats for f*. */
export function writeWav(spec: WavSpec, interleaved: ArrayLike<number>): Uint8Array {
  const bits = BITS[spec.encoding];
  const bytes = bits / 8;
  const float = spec.encoding.startsWith('f');
  const fmt = new Uint8Array(spec.extensible ? 40 : 16);
  const f = new DataView(fmt.buffer);
  const code = float ? 3 : 1;
  f.setUint16(0, spec.extensible ? 0xfffe : code, true);
  f.setUint16(2, spec.channels, true);
  f.setUint32(4, spec.sampleRate, true);
  f.setUint32(8, spec.sampleRate * spec.channels * bytes, true);
  f.setUint16(12, spec.channels * bytes, true);
  f.setUint16(14, bits, true);
  if (spec.extensible) {
    f.setUint16(16, 22, true); // cbSize
    f.setUint16(18, bits, true); // valid bits
    f.setUint32(20, spec.channels === 2 ? 0x3 : 0, true); // channel mask
    // KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT: {0000000X-0000-0010-8000-00AA00389B71}
    fmt.set([code, 0, 0, 0, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 24);
  }
  const data = new Uint8Array(interleaved.length * bytes);
  const d = new DataView(data.buffer);
  for (let i = 0; i < interleaved.length; i++) {
    const v = interleaved[i];
    const at = i * bytes;
    switch (spec.encoding) {
      case 'u8': d.setUint8(at, v); break;
      case 's16': d.setInt16(at, v, true); break;
      case 's24': d.setUint8(at, v & 0xff); d.setUint8(at + 1, (v >> 8) & 0xff); d.setInt8(at + 2, v >> 16); break;
      case 's32': d.setInt32(at, v, true); break;
      case 'f32': d.setFloat32(at, v, true); break;
      case 'f64': d.setFloat64(at, v, true); break;
    }
  }
  const parts = [chunk('fmt ', fmt), ...(spec.extraChunks ?? []).map((c) => chunk(c.id, c.body)), chunk('data', data)];
  const bodyLength = 4 + parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(8 + bodyLength);
  out.set(Buffer.from('RIFF', 'ascii'));
  new DataView(out.buffer).setUint32(4, bodyLength, true);
  out.set(Buffer.from('WAVE', 'ascii'), 8);
  let offset = 12;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Byte offset of the header of chunk `id` in a RIFF file written by writeWav (its size is 4 bytes later). */
export function chunkOffset(wav: Uint8Array, id: string): number {
  const view = new DataView(wav.buffer, wav.byteOffset, wav.length);
  for (let at = 12; at + 8 <= wav.length; ) {
    if (Buffer.from(wav.subarray(at, at + 4)).toString('ascii') === id) return at;
    const size = view.getUint32(at + 4, true);
    at += 8 + size + (size & 1);
  }
  throw new Error(`no ${id} chunk`);
}

/** A copy of `wav` whose data chunk header declares `size` bytes (0xFFFFFFFF, 0: an open length). */
export function withDataSize(wav: Uint8Array, size: number): Uint8Array {
  const out = wav.slice();
  new DataView(out.buffer).setUint32(chunkOffset(out, 'data') + 4, size, true);
  return out;
}

/** `wav` cut `keepBytes` bytes into its data chunk, the header unchanged (an interrupted copy or recording). */
export function cutData(wav: Uint8Array, keepBytes: number): Uint8Array {
  return wav.slice(0, chunkOffset(wav, 'data') + 8 + keepBytes);
}
