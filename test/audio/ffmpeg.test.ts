/**
 * The ffmpeg path (flac, mp3, ogg made here from the jfk WAV), in-memory inputs, and streaming: chunks of the
 * requested size whose concatenation is exactly what decodeAudio returns. Files ffmpeg reports errors on are
 * AUDIO_TRUNCATED unless allowed; a file with no samples is AUDIO_INVALID.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudio, logMelSpectrogram, padOrTrim, SAMPLE_RATE, streamAudio } from '../../src/audio/index.js';
import { JFK_WAV, SHARED, maxAbsDiff } from './fixtures.js';
import { concatFloat32 as concat } from '../helpers/arrays.js';
import { isMoxingError } from '../../src/errors.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('audio/ffmpeg', () => {
  let dir: string;
  let original: Float32Array;
  const made: Record<'flac' | 'mp3' | 'ogg', string> = { flac: '', mp3: '', ogg: '' };
  let wav44: string; // jfk as 44.1 kHz stereo 16-bit WAV (sox)

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moxing-ffmpeg-'));
    original = await decodeAudio(JFK_WAV);
    const codecs = { flac: ['-c:a', 'flac'], mp3: ['-c:a', 'libmp3lame', '-b:a', '64k'], ogg: ['-c:a', 'libvorbis', '-q:a', '4'] };
    for (const [ext, codec] of Object.entries(codecs) as Array<[keyof typeof made, string[]]>) {
      made[ext] = join(dir, `jfk.${ext}`);
      execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-i', JFK_WAV, ...codec, made[ext]]);
    }
    wav44 = join(dir, 'jfk44.wav');
    execFileSync('sox', [JFK_WAV, '-c', '2', wav44, 'rate', '44100']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function collect(chunks: AsyncIterable<Float32Array>): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for await (const chunk of chunks) out.push(chunk);
    return out;
  }


  test('flac through ffmpeg is lossless: exactly the WAV samples', async () => {
    assert.equal(maxAbsDiff(await decodeAudio(made.flac), original), 0);
  });

  test('mp3 and ogg through ffmpeg: same length, log-mel close to the original', async () => {
    const reference = logMelSpectrogram(padOrTrim(original), 80);
    for (const path of [made.mp3, made.ogg]) {
      const decoded = await decodeAudio(path);
      assert.equal(decoded.length, original.length, path);
      // Lossy codecs discard quiet detail by design, so this is a mean over the speech (11 s), not a max: measured
      // 0.013 (mp3 64k) and 0.026 (vorbis q4); a 10 ms shift of the audio alone already gives ~0.08.
      const mel = logMelSpectrogram(padOrTrim(decoded), 80);
      let sum = 0;
      let count = 0;
      for (let m = 0; m < 80; m++) {
        for (let t = 0; t < 1100; t++, count++) sum += Math.abs(mel.data[m * 3000 + t] - reference.data[m * 3000 + t]);
      }
      assert.ok(sum / count < 0.05, `${path}: mean log-mel error ${sum / count}`);
    }
  });

  test('a 44.1 kHz stereo 24-bit flac (shared jfk.flac) is downmixed and resampled by ffmpeg to 16 kHz', async () => {
    const decoded = await decodeAudio(`${SHARED}audio/jfk.flac`);
    assert.equal(decoded.length, 11 * SAMPLE_RATE);
    assert.ok(decoded.some((v) => Math.abs(v) > 0.1));
  });

  test('the native WAV path and the ffmpeg path agree on 44.1 kHz stereo (mean downmix, 16 kHz)', async () => {
    // The same samples as lossless flac, so only the decoders differ: our downmix + resampler vs ffmpeg's.
    const flac44 = join(dir, 'jfk44.flac');
    execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-i', wav44, '-c:a', 'flac', flac44]);
    const native = await decodeAudio(wav44);
    const viaFfmpeg = await decodeAudio(flac44);
    assert.equal(native.length, viaFfmpeg.length);
    // Two different band-limiting filters near 8 kHz: a few 1e-4 apart. A (L + R) / √2 downmix would be off by 0.1.
    const error = maxAbsDiff(native, viaFfmpeg);
    assert.ok(error < 0.005, `max sample difference ${error}`);
  });

  test('in-memory bytes decode like the file, for ffmpeg formats and WAV', async () => {
    for (const path of [made.flac, made.ogg, JFK_WAV]) {
      assert.equal(maxAbsDiff(await decodeAudio(new Uint8Array(readFileSync(path))), await decodeAudio(path)), 0, path);
    }
    // From a pipe ffmpeg cannot seek to the mp3's end, so it keeps the encoder's trailing padding (less than one
    // 1152-sample frame of near-silence); everything before it is identical.
    const fromFile = await decodeAudio(made.mp3);
    const fromBytes = await decodeAudio(new Uint8Array(readFileSync(made.mp3)));
    assert.ok(fromBytes.length >= fromFile.length && fromBytes.length < fromFile.length + 1152, `${fromBytes.length} samples`);
    assert.equal(maxAbsDiff(fromBytes.subarray(0, fromFile.length), fromFile), 0);
  });

  test('streamAudio yields chunkSeconds-long chunks whose concatenation equals decodeAudio', async () => {
    for (const path of [made.mp3, wav44]) {
      const chunks = await collect(streamAudio(path, { chunkSeconds: 2.5 }));
      const whole = await decodeAudio(path);
      assert.deepEqual(
        chunks.map((c) => c.length),
        [...Array(4).fill(40_000), whole.length - 160_000],
        path,
      );
      assert.equal(maxAbsDiff(concat(chunks), whole), 0, path);
    }
  });

  test('leaving a stream early stops ffmpeg (no hang, no error)', async () => {
    let seen = 0;
    for await (const chunk of streamAudio(made.ogg, { chunkSeconds: 1 })) {
      seen += chunk.length;
      break;
    }
    assert.equal(seen, SAMPLE_RATE);
  });

  test('a flac or mp3 cut in half is AUDIO_TRUNCATED (ffmpeg\'s decoding errors); allowTruncated decodes the first half and warns once', async () => {
    for (const ext of ['flac', 'mp3'] as const) {
      const bytes = readFileSync(made[ext]);
      const half = join(dir, `half.${ext}`);
      writeFileSync(half, bytes.subarray(0, bytes.length >> 1));
      for (const input of [half, new Uint8Array(readFileSync(half))]) {
        await assert.rejects(decodeAudio(input), (error: unknown) => {
          assert.ok(isMoxingError(error, 'AUDIO_TRUNCATED'), String(error));
          assert.match(error.message, /is truncated: ffmpeg reported errors decoding it \("[^"]+"\), so it is cut or damaged/);
          assert.doesNotMatch(error.message, / @ 0x/, 'run-dependent addresses are left out');
          return true;
        });
      }
      const warnings: string[] = [];
      const decoded = await decodeAudio(half, { allowTruncated: true, onTruncated: (reason) => warnings.push(reason) });
      assert.equal(warnings.length, 1, ext);
      // About the first half of the audio, sample for sample where the codec is lossless.
      assert.ok(Math.abs(decoded.length - original.length / 2) < original.length / 10, `${ext}: ${decoded.length} samples`);
      if (ext === 'flac') assert.equal(maxAbsDiff(decoded.subarray(0, 40_000), original.subarray(0, 40_000)), 0);
    }
  });

  test('a valid file with no audio frames is AUDIO_INVALID, not an empty result', async () => {
    const silent = join(dir, 'no-frames.flac');
    execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-frames:a', '0', silent]);
    await assert.rejects(decodeAudio(silent), (error: unknown) => isMoxingError(error, 'AUDIO_INVALID') && /no-frames\.flac holds no audio samples/.test(error.message));
  });
});
