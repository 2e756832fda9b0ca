/**
 * Decoding of every non-WAV format through the `ffmpeg` executable: it reads the file (or our stdin) and writes
 * 16 kHz mono to its stdout, which we read as a stream (no temp files; the pipe's back-pressure keeps memory
 * bounded). `MOXING_FFMPEG` overrides the executable.
 *
 * The output is int16, exactly as openai/whisper's `load_audio` asks for (`-f s16le -ac 1 -ar 16000`), so moxing
 * sees the very samples openai sees. It also matters for the downmix: ffmpeg averages channels when writing
 * integers, but with float output it does not normalise its matrix and stereo comes out as (L + R) / √2.
 *
 * ffmpeg skips what it cannot decode and still exits 0: a FLAC cut in half prints "decode_frame() failed", an
 * MP3 cut in half "invalid new backstep", and both give the samples before the cut. At `-loglevel error` an
 * intact file prints nothing, so any line there means a damaged or cut input: AUDIO_TRUNCATED unless
 * `allowTruncated`. (An Ogg file cut at a page boundary prints nothing: it is a valid, shorter file.)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { MoxingError } from '../errors.js';
import { SAMPLE_RATE } from './constants.js';
import { truncation, type TruncationOptions } from './truncation.js';

/** The ffmpeg executable used: `options.ffmpegPath`, else `$MOXING_FFMPEG`, else `ffmpeg` on PATH. */
export function resolveFfmpegPath(explicit?: string): string {
  return explicit ?? (process.env.MOXING_FFMPEG || 'ffmpeg');
}

/** Keeps only the tail of ffmpeg's stderr, for the error message. */
const STDERR_KEEP_BYTES = 8192;

/** ffmpeg's last stderr line, without the context addresses that change from run to run ("[flac @ 0x55e3...]"). */
function lastLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  return lines.at(-1)?.replace(/ @ 0x[0-9a-f]+\]/, ']');
}

/**
 * Streams `input` (a path, or the bytes of a file) decoded by ffmpeg as 16 kHz mono float32 blocks of any size
 * (int16 / 32768, as openai).
 * Throws AUDIO_UNSUPPORTED when ffmpeg cannot be started, AUDIO_INVALID when it fails on the input, and
 * AUDIO_TRUNCATED (after the last block) when it reported decoding errors, unless `options.allowTruncated`.
 * Stopping the iteration early kills ffmpeg.
 */
export async function* ffmpegDecode(
  input: string | Uint8Array,
  name: string,
  options: TruncationOptions & { readonly ffmpegPath?: string } = {},
): AsyncGenerator<Float32Array> {
  const executable = resolveFfmpegPath(options.ffmpegPath);
  // `file:` keeps ffmpeg from reading a path such as `a:b.mp3` as a protocol or `-x.mp3` as an option.
  const source = typeof input === 'string' ? `file:${input}` : 'pipe:0';
  const args = ['-hide_banner', '-loglevel', 'error', ...(typeof input === 'string' ? ['-nostdin'] : [])];
  args.push('-threads', '0', '-i', source, '-vn', '-sn', '-dn');
  args.push('-f', 's16le', '-acodec', 'pcm_s16le', '-ac', '1', '-ar', String(SAMPLE_RATE), 'pipe:1');
  const child = spawn(executable, args, { stdio: [typeof input === 'string' ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  try {
    await once(child, 'spawn');
  } catch (error) {
    throw new MoxingError(
      'AUDIO_UNSUPPORTED',
      `${name} is not a WAV file, and decoding it needs ffmpeg, which could not be started (${executable}: ` +
        `${(error as NodeJS.ErrnoException).code ?? String(error)}). Install ffmpeg (apt-get install ffmpeg, ` +
        `brew install ffmpeg, or ffmpeg.org) or set MOXING_FFMPEG to its path.`,
      { cause: error },
    );
  }
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP_BYTES);
  });
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  // Swallow the rejection here: `closed` is awaited only on the normal path below.
  closed.catch(() => undefined);
  if (typeof input !== 'string') {
    // ffmpeg may stop reading early (it failed, or it has all it needs): EPIPE is not our error.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
  }

  let finished = false;
  try {
    let carry = new Uint8Array(0);
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      let bytes: Uint8Array = chunk;
      if (carry.length > 0) {
        bytes = new Uint8Array(carry.length + chunk.length);
        bytes.set(carry);
        bytes.set(chunk, carry.length);
      }
      const whole = bytes.length - (bytes.length % 2);
      if (whole > 0) {
        const view = new DataView(bytes.buffer, bytes.byteOffset, whole);
        const samples = new Float32Array(whole / 2);
        for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(2 * i, true) / 32768;
        yield samples;
      }
      carry = bytes.slice(whole);
    }
    const [code, signal] = await closed;
    finished = true;
    if (code !== 0) {
      const last = lastLine(stderr) ?? (signal ? `killed by ${signal}` : `exit code ${code}`);
      throw new MoxingError('AUDIO_INVALID', `${name} could not be decoded as audio: ffmpeg says "${last}". Check that the file is an intact audio or video file.`);
    }
    const last = lastLine(stderr);
    if (last !== undefined) truncation(name, `ffmpeg reported errors decoding it ("${last}"), so it is cut or damaged`, options);
  } finally {
    if (!finished && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
