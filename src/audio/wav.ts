/**
 * Native WAV reading: RIFF (and RF64) headers, PCM 8/16/24/32-bit, IEEE float 32/64, any rate and channel count,
 * WAVE_FORMAT_EXTENSIBLE. The header is parsed from a random-access byte source, so the samples can then be read
 * block by block and a long file is never held whole. Compressed WAV codecs (ADPCM, µ-law, ...) are left to ffmpeg.
 *
 * A header is trusted only within WAV_LIMITS: a corrupt rate or channel count would otherwise turn a small file
 * into gigabytes of resampled output (1 Hz is 16 000 outputs per input sample).
 */
import { MoxingError } from '../errors.js';

/** Random access to the bytes of a file or buffer. `read` returns fewer bytes only at the end. */
export interface ByteSource {
  readonly size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

export type SampleEncoding = 'u8' | 's16' | 's24' | 's32' | 'f32' | 'f64';

export interface WavInfo {
  readonly encoding: SampleEncoding;
  readonly channels: number;
  /** Samples per second per channel. */
  readonly sampleRate: number;
  /** Bytes per frame (one sample of every channel). */
  readonly blockAlign: number;
  /** Byte offset of the first sample. */
  readonly dataOffset: number;
  /** Bytes of sample data actually present, a whole number of frames (a truncated file keeps what it has). */
  readonly dataBytes: number;
  /**
   * Bytes of sample data the header declares, or undefined where it leaves the length open: 0xFFFFFFFF
   * (ffmpeg writing to a pipe, RF64 without ds64), 0 (a recorder stopped before it wrote the length) and
   * 0x7FFFF000 (sox writing to a pipe). An open length is read to the end of the file.
   */
  readonly declaredBytes: number | undefined;
}

/** What a WAV header may declare; outside these it is corrupt (AUDIO_INVALID). */
export const WAV_LIMITS = Object.freeze({
  /** Lowest sample rate in Hz: below telephony's 8 kHz, with room to spare; nothing real is recorded slower. */
  minSampleRateHz: 1000,
  /** Highest sample rate in Hz: 384 kHz is the top rate of shipping converters (DXD x 2). */
  maxSampleRateHz: 384_000,
  /** Most channels: 64 is 7th-order ambisonics, the largest layout in use. */
  maxChannels: 64,
});

/** The data chunk sizes that mean "unknown length, read to the end" rather than a real size (see declaredBytes). */
const OPEN_DATA_SIZES: ReadonlySet<number> = new Set([0, 0xffffffff, 0x7ffff000]);

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
// The last 14 bytes of the KSDATAFORMAT_SUBTYPE_* GUIDs are shared; the first 2 are the format code.
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const ascii = (b: Uint8Array, at: number): string => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);

/** Whether the bytes start like a RIFF/RF64 WAVE file (decided on the first 12 bytes). */
export function looksLikeWav(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const riff = ascii(head, 0);
  if (riff !== 'RIFF' && riff !== 'RF64') return false;
  // A RIFF file cut inside its first 12 bytes is still a WAV to us (then reported as truncated).
  return head.length < 12 || ascii(head, 8) === 'WAVE';
}

/**
 * Parses the header of a WAV file. Returns `undefined` for a valid WAV whose codec is not PCM or float
 * (the caller hands those to ffmpeg); throws AUDIO_INVALID when the header is truncated or corrupt.
 */
export async function readWavInfo(source: ByteSource, name: string): Promise<WavInfo | undefined> {
  const invalid = (what: string): MoxingError =>
    new MoxingError('AUDIO_INVALID', `${name} is not a readable WAV file: ${what}. Re-export or re-record the file.`);
  const head = await source.read(0, 12);
  if (head.length < 12) throw invalid('the RIFF header is truncated');
  if (!looksLikeWav(head)) throw invalid('it lacks the RIFF/WAVE signature');
  const rf64 = ascii(head, 0) === 'RF64';

  let format: { code: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined;
  let ds64DataBytes: number | undefined;
  let position = 12;
  for (;;) {
    const chunkHead = await source.read(position, 8);
    if (chunkHead.length < 8) throw invalid(format ? 'there is no data chunk' : 'there is no fmt chunk');
    const view = new DataView(chunkHead.buffer, chunkHead.byteOffset, 8);
    const id = ascii(chunkHead, 0);
    const size = view.getUint32(4, true);
    const body = position + 8;
    if (id === 'fmt ') {
      if (size < 16) throw invalid(`the fmt chunk has ${size} bytes, fewer than 16`);
      const fmt = await source.read(body, Math.min(size, 40));
      if (fmt.length < 16) throw invalid('the fmt chunk is truncated');
      format = parseFmt(fmt);
    } else if (id === 'ds64' && rf64) {
      const ds64 = await source.read(body, 16);
      if (ds64.length < 16) throw invalid('the ds64 chunk is truncated');
      const v = new DataView(ds64.buffer, ds64.byteOffset, 16);
      ds64DataBytes = v.getUint32(8, true) + v.getUint32(12, true) * 2 ** 32;
    } else if (id === 'data') {
      if (!format) throw invalid('the data chunk comes before the fmt chunk');
      const info = checkFormat(format, invalid);
      if (!info) return undefined;
      // RF64 keeps the real size in ds64; an open size (see OPEN_DATA_SIZES) is read to the end of the file.
      const declaredBytes = rf64 && ds64DataBytes !== undefined ? ds64DataBytes : OPEN_DATA_SIZES.has(size) ? undefined : size;
      const present = Math.min(declaredBytes ?? Infinity, Math.max(0, source.size - body));
      const dataBytes = present - (present % info.blockAlign);
      return { ...info, dataOffset: body, dataBytes, declaredBytes };
    }
    // RIFF chunks are padded to an even size.
    position = body + size + (size & 1);
  }
}

function parseFmt(fmt: Uint8Array): { code: number; channels: number; sampleRate: number; blockAlign: number; bits: number } {
  const v = new DataView(fmt.buffer, fmt.byteOffset, fmt.length);
  let code = v.getUint16(0, true);
  if (code === WAVE_FORMAT_EXTENSIBLE && fmt.length >= 40) {
    const tailMatches = GUID_TAIL.every((byte, i) => fmt[26 + i] === byte);
    code = tailMatches ? v.getUint16(24, true) : -1;
  }
  return {
    code,
    channels: v.getUint16(2, true),
    sampleRate: v.getUint32(4, true),
    blockAlign: v.getUint16(12, true),
    bits: v.getUint16(14, true),
  };
}

function checkFormat(
  f: { code: number; channels: number; sampleRate: number; blockAlign: number; bits: number },
  invalid: (what: string) => MoxingError,
): Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'declaredBytes'> | undefined {
  // Checked for every codec: ffmpeg would trust a corrupt rate as blindly as our resampler.
  const { minSampleRateHz, maxSampleRateHz, maxChannels } = WAV_LIMITS;
  if (f.channels < 1 || f.channels > maxChannels) throw invalid(`the fmt chunk declares ${f.channels} channels; a WAV has 1 to ${maxChannels}`);
  if (f.sampleRate < minSampleRateHz || f.sampleRate > maxSampleRateHz) {
    throw invalid(`the fmt chunk declares a sample rate of ${f.sampleRate} Hz; a WAV has ${minSampleRateHz} to ${maxSampleRateHz} Hz`);
  }
  let encoding: SampleEncoding | undefined;
  if (f.code === WAVE_FORMAT_PCM) {
    encoding = ({ 8: 'u8', 16: 's16', 24: 's24', 32: 's32' } as const)[f.bits as 8 | 16 | 24 | 32];
  } else if (f.code === WAVE_FORMAT_IEEE_FLOAT) {
    encoding = ({ 32: 'f32', 64: 'f64' } as const)[f.bits as 32 | 64];
  } else {
    return undefined; // another codec: ffmpeg's business
  }
  if (!encoding) return undefined; // e.g. 12-bit or 20-bit containers: let ffmpeg try
  const blockAlign = (f.channels * f.bits) / 8;
  if (f.blockAlign !== blockAlign) throw invalid(`block align ${f.blockAlign} does not match ${f.channels} channels of ${f.bits} bits`);
  return { encoding, channels: f.channels, sampleRate: f.sampleRate, blockAlign };
}

/**
 * Converts whole frames of interleaved samples to mono float: each sample is scaled to [-1, 1) as ffmpeg does
 * (int / 2^(bits-1); 8-bit is unsigned around 128), and channels are averaged (ffmpeg's `-ac 1`).
 */
export function framesToMono(bytes: Uint8Array, info: Pick<WavInfo, 'encoding' | 'channels' | 'blockAlign'>): Float32Array {
  const { encoding, channels, blockAlign } = info;
  const frames = Math.floor(bytes.length / blockAlign);
  const out = new Float32Array(frames);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const width = blockAlign / channels;
  const read: (at: number) => number =
    encoding === 'u8'
      ? (at) => (bytes[at] - 128) / 128
      : encoding === 's16'
        ? (at) => v.getInt16(at, true) / 32768
        : encoding === 's24'
          ? (at) => ((bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16)) << 8 >> 8) / 8388608
          : encoding === 's32'
            ? (at) => v.getInt32(at, true) / 2147483648
            : encoding === 'f32'
              ? (at) => v.getFloat32(at, true)
              : (at) => v.getFloat64(at, true);
  if (channels === 1) {
    for (let i = 0; i < frames; i++) out[i] = read(i * width);
    return out;
  }
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    const base = i * blockAlign;
    for (let c = 0; c < channels; c++) sum += read(base + c * width);
    out[i] = sum / channels;
  }
  return out;
}
