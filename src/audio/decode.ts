/**
 * Audio decoding to Whisper's input: 16 kHz mono float32 PCM. WAV (PCM and float) is read natively and resampled
 * here; everything else goes through ffmpeg. `streamAudio` yields fixed-size chunks and never holds the whole file
 * (WAV is read 1 MiB at a time, ffmpeg's stdout is read with back-pressure); `decodeAudio` gathers the same blocks.
 *
 * The input contract: a WAV header outside WAV_LIMITS is AUDIO_INVALID; a file that ends before the length its
 * header declares, or that ffmpeg reports decoding errors on, is AUDIO_TRUNCATED unless `allowTruncated` (then
 * `onTruncated` hears of it once and what is there is decoded); an input with no samples at all is AUDIO_INVALID.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { MoxingError } from '../errors.js';
import { SAMPLE_RATE } from './constants.js';
import { ffmpegDecode } from './ffmpeg.js';
import { truncation, type TruncationOptions } from './truncation.js';
import { Resampler } from './resample.js';
import { framesToMono, looksLikeWav, readWavInfo, type ByteSource, type WavInfo } from './wav.js';

export interface DecodeOptions extends TruncationOptions {
  /**
   * The ffmpeg executable for non-WAV inputs.
   * @default process.env.MOXING_FFMPEG, else `ffmpeg` on PATH
   */
  readonly ffmpegPath?: string;
}

export interface StreamOptions extends DecodeOptions {
  /**
   * Length of each yielded chunk in seconds (the last one is shorter).
   * @default 30
   */
  readonly chunkSeconds?: number;
}

export const DEFAULT_STREAM: Readonly<{ chunkSeconds: number }> = Object.freeze({ chunkSeconds: 30 });

/** Input bytes read per step of the native WAV path (a bound on memory, not on quality). */
const WAV_READ_BYTES = 1 << 20;

/** Decodes a whole file or in-memory file to 16 kHz mono float32 samples. */
export async function decodeAudio(input: string | Uint8Array, options: DecodeOptions = {}): Promise<Float32Array> {
  const blocks: Float32Array[] = [];
  let total = 0;
  for await (const block of decodeBlocks(input, options)) {
    blocks.push(block);
    total += block.length;
  }
  const out = new Float32Array(total);
  let at = 0;
  for (const block of blocks) {
    out.set(block, at);
    at += block.length;
  }
  return out;
}

/**
 * Decodes a file (or in-memory file) to 16 kHz mono float32, yielding chunks of `chunkSeconds` each (the last one
 * shorter); their concatenation is exactly `decodeAudio`'s result.
 * Errors: FILE_NOT_FOUND, FILE_EMPTY, AUDIO_INVALID (corrupt, not audio, or no samples), AUDIO_TRUNCATED (cut or
 * damaged, without `allowTruncated`), AUDIO_UNSUPPORTED (needs ffmpeg).
 */
export async function* streamAudio(input: string | Uint8Array, options: StreamOptions = {}): AsyncGenerator<Float32Array> {
  const chunkSeconds = options.chunkSeconds ?? DEFAULT_STREAM.chunkSeconds;
  if (!(chunkSeconds > 0)) throw new MoxingError('BAD_ARGUMENT', `chunkSeconds must be a positive number of seconds, got ${chunkSeconds}.`);
  yield* rechunk(decodeBlocks(input, options), Math.max(1, Math.round(chunkSeconds * SAMPLE_RATE)));
}

/** 16 kHz mono blocks of whatever size the decoder produces; at least one sample in all. */
async function* decodeBlocks(input: string | Uint8Array, options: DecodeOptions): AsyncGenerator<Float32Array> {
  const name = typeof input === 'string' ? input : 'the audio buffer';
  let samples = 0;
  for await (const block of formatBlocks(input, name, options)) {
    samples += block.length;
    yield block;
  }
  // An empty transcript of a file with no audio would look like a transcript of silence.
  if (samples === 0) throw new MoxingError('AUDIO_INVALID', `${name} holds no audio samples. Give a file that contains audio.`);
}

/** The blocks of the WAV reader or of ffmpeg, whichever reads `input`. */
async function* formatBlocks(input: string | Uint8Array, name: string, options: DecodeOptions): AsyncGenerator<Float32Array> {
  const { source, close } = typeof input === 'string' ? await openFile(input) : bufferSource(input);
  try {
    if (source.size === 0) {
      throw new MoxingError('FILE_EMPTY', `${name} is empty (0 bytes). Give a file that contains audio.`);
    }
    const head = await source.read(0, 12);
    const info = looksLikeWav(head) ? await readWavInfo(source, name) : undefined;
    if (info) {
      yield* wavBlocks(source, info, name, options);
    } else {
      // ffmpeg opens the path itself: release our handle first.
      await close();
      yield* ffmpegDecode(input, name, options);
    }
  } finally {
    await close();
  }
}

/** The native WAV path: whole frames read block by block, downmixed and resampled to 16 kHz. */
async function* wavBlocks(source: ByteSource, info: WavInfo, name: string, options: TruncationOptions): AsyncGenerator<Float32Array> {
  checkWavLength(info, name, options);
  const resampler = info.sampleRate === SAMPLE_RATE ? undefined : new Resampler(info.sampleRate, SAMPLE_RATE);
  const step = Math.max(1, Math.floor(WAV_READ_BYTES / info.blockAlign)) * info.blockAlign;
  const end = info.dataOffset + info.dataBytes;
  for (let position = info.dataOffset; position < end; position += step) {
    const bytes = await source.read(position, Math.min(step, end - position));
    const mono = framesToMono(bytes, info);
    yield resampler ? resampler.process(mono) : mono;
    if (bytes.length < Math.min(step, end - position)) {
      truncation(name, 'the file shrank while it was read', options);
      break;
    }
  }
  if (resampler) yield resampler.flush();
}

/**
 * A data chunk shorter than its header says is a cut file (an interrupted copy or recording): AUDIO_TRUNCATED, or
 * with `allowTruncated` a warning and the whole frames that are there; none at all is an error either way.
 */
function checkWavLength(info: WavInfo, name: string, options: TruncationOptions): void {
  const { declaredBytes, dataBytes, blockAlign, sampleRate } = info;
  if (declaredBytes === undefined || dataBytes >= declaredBytes - (declaredBytes % blockAlign)) return;
  const seconds = (bytes: number): string => (bytes / blockAlign / sampleRate).toFixed(2);
  if (dataBytes === 0) {
    truncation(name, `its header declares ${declaredBytes} bytes of samples (${seconds(declaredBytes)} s) and the file ends before the first frame`, options, false);
  }
  truncation(name, `its header declares ${declaredBytes} bytes of samples and the file holds ${dataBytes} (${seconds(dataBytes)} s of ${seconds(declaredBytes)} s)`, options);
}

/** Regroups blocks of any size into chunks of exactly `size` samples (the last may be shorter, never empty). */
async function* rechunk(blocks: AsyncIterable<Float32Array>, size: number): AsyncGenerator<Float32Array> {
  let pending = new Float32Array(size);
  let filled = 0;
  for await (const block of blocks) {
    let offset = 0;
    while (offset < block.length) {
      const take = Math.min(size - filled, block.length - offset);
      pending.set(block.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === size) {
        yield pending;
        pending = new Float32Array(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield pending.slice(0, filled);
}

async function openFile(path: string): Promise<{ source: ByteSource; close: () => Promise<void> }> {
  let handle: FileHandle;
  let size: number;
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new MoxingError('BAD_ARGUMENT', `${path} is a directory, not an audio file. Give the path of an audio file.`);
    }
    handle = await open(path, 'r');
    size = info.size;
  } catch (error) {
    if (error instanceof MoxingError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new MoxingError('FILE_NOT_FOUND', `Audio file ${path} does not exist. Check the path.`, { cause: error });
    }
    throw new MoxingError('BAD_ARGUMENT', `Audio file ${path} cannot be read (${code ?? String(error)}). Check its permissions.`, {
      cause: error,
    });
  }
  let closed = false;
  return {
    source: {
      size,
      async read(position: number, length: number): Promise<Uint8Array> {
        const buffer = new Uint8Array(Math.max(0, Math.min(length, size - position)));
        let done = 0;
        while (done < buffer.length) {
          const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === buffer.length ? buffer : buffer.subarray(0, done);
      },
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

function bufferSource(bytes: Uint8Array): { source: ByteSource; close: () => Promise<void> } {
  return {
    source: {
      size: bytes.length,
      read: async (position: number, length: number) => bytes.subarray(position, Math.min(bytes.length, position + length)),
    },
    close: async () => undefined,
  };
}

