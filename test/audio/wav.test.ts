/**
 * The native WAV path: every sample layout decodes to exactly the samples it encodes, channels are averaged, headers
 * with extra or odd-sized chunks, WAVE_FORMAT_EXTENSIBLE, RF64 and open data lengths are read, a cut data chunk is
 * AUDIO_TRUNCATED unless allowed, rates and channel counts are bounded, and other rates (made by sox, an
 * independent resampler) come back to 16 kHz with log-mel features close to the 16 kHz original.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudio, logMelSpectrogram, padOrTrim, type LogMel } from '../../src/audio/index.js';
import { isMoxingError } from '../../src/errors.js';
import { WAV_LIMITS } from '../../src/audio/index.js';
import { JFK_WAV, maxAbsDiff } from './fixtures.js';
import { chunkOffset, cutData, withDataSize, writeWav, type WavSpec } from './wav-writer.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('audio/wav', () => {
  let dir: string;
  let original: Float32Array; // jfk, 16 kHz mono, int16 / 32768
  let ints: Int16Array;
  let originalMel: LogMel;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moxing-wav-'));
    original = await decodeAudio(JFK_WAV);
    ints = Int16Array.from(original, (v) => Math.round(v * 32768));
    originalMel = logMelSpectrogram(padOrTrim(original), 80);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function roundTrip(spec: WavSpec, interleaved: ArrayLike<number>): Promise<Float32Array> {
    const path = join(dir, `${spec.encoding}-${spec.channels}-${spec.sampleRate}${spec.extensible ? '-ext' : ''}.wav`);
    writeFileSync(path, writeWav(spec, interleaved));
    return decodeAudio(path);
  }

  // Slaney mel centre frequencies, to compare only the bins a band-limited resampling keeps.
  function melCentreHz(bin: number, nMels: number): number {
    const hzToMel = (hz: number) => (hz >= 1000 ? 15 + Math.log(hz / 1000) / (Math.log(6.4) / 27) : (hz * 3) / 200);
    const melToHz = (mel: number) => (mel >= 15 ? 1000 * Math.exp((Math.log(6.4) / 27) * (mel - 15)) : (mel * 200) / 3);
    return melToHz((hzToMel(8000) * (bin + 1)) / (nMels + 1));
  }

  /** Max abs difference of two log-mels over the bins centred at or below `maxHz` and the first `frames` frames. */
  function melDiff(a: LogMel, b: LogMel, maxHz: number, frames: number): number {
    let max = 0;
    for (let m = 0; m < a.nMels; m++) {
      if (melCentreHz(m, a.nMels) > maxHz) continue;
      for (let t = 0; t < frames; t++) max = Math.max(max, Math.abs(a.data[m * a.nFrames + t] - b.data[m * b.nFrames + t]));
    }
    return max;
  }

  test('16 kHz mono in every sample format decodes to exactly the encoded samples', async () => {
    const cases: Array<[WavSpec, ArrayLike<number>]> = [
      [{ encoding: 's16', channels: 1, sampleRate: 16000 }, ints],
      [{ encoding: 's24', channels: 1, sampleRate: 16000 }, Int32Array.from(ints, (v) => v * 256)],
      [{ encoding: 's32', channels: 1, sampleRate: 16000 }, Int32Array.from(ints, (v) => v * 65536)],
      [{ encoding: 'f32', channels: 1, sampleRate: 16000 }, original],
      [{ encoding: 'f64', channels: 1, sampleRate: 16000 }, original],
      [{ encoding: 's24', channels: 1, sampleRate: 16000, extensible: true }, Int32Array.from(ints, (v) => v * 256)],
      [{ encoding: 'f32', channels: 1, sampleRate: 16000, extensible: true }, original],
    ];
    for (const [spec, values] of cases) {
      const decoded = await roundTrip(spec, values);
      assert.equal(maxAbsDiff(decoded, original), 0, `${spec.encoding}${spec.extensible ? ' extensible' : ''}`);
    }
  });

  test('8-bit unsigned WAV: exact samples, and log-mel within 0.02 where speech is above its noise floor', async () => {
    const u8 = Uint8Array.from(ints, (v) => Math.min(255, Math.round(v / 256) + 128));
    const decoded = await roundTrip({ encoding: 'u8', channels: 1, sampleRate: 16000 }, u8);
    assert.equal(maxAbsDiff(decoded, Float32Array.from(u8, (v) => (v - 128) / 128)), 0);
    // 8-bit quantization noise sits ~48 dB under full scale, so quiet cells legitimately change; cells within 30 dB
    // (0.75 in whisper's (log10 + 4) / 4 units) of the loudest must agree within 0.02 (0.8 dB).
    const mel = logMelSpectrogram(padOrTrim(decoded), 80);
    const loudest = originalMel.data.reduce((a, b) => Math.max(a, b), -Infinity);
    let error = 0;
    for (let i = 0; i < mel.data.length; i++) {
      if (originalMel.data[i] >= loudest - 0.75) error = Math.max(error, Math.abs(mel.data[i] - originalMel.data[i]));
    }
    assert.ok(error <= 0.02, `u8 loud-cell error ${error}`);
  });

  test('multi-channel WAV is averaged to mono (stereo, 3 channels, 6-channel extensible)', async () => {
    // Channels differ (x ± d), but their mean is x exactly.
    const d = (i: number) => (Math.abs(ints[i]) < 30_000 ? ((i * 37) % 2001) - 1000 : 0);
    const stereo = new Int16Array(ints.length * 2);
    for (let i = 0; i < ints.length; i++) [stereo[2 * i], stereo[2 * i + 1]] = [ints[i] + d(i), ints[i] - d(i)];
    assert.equal(maxAbsDiff(await roundTrip({ encoding: 's16', channels: 2, sampleRate: 16000 }, stereo), original), 0);

    const three = new Float32Array(original.length * 3);
    for (let i = 0; i < original.length; i++) three.set([original[i] + 0.25, original[i], original[i] - 0.25], 3 * i);
    assert.ok(maxAbsDiff(await roundTrip({ encoding: 'f32', channels: 3, sampleRate: 16000 }, three), original) < 1e-7);

    const six = new Int32Array(ints.length * 6);
    for (let i = 0; i < ints.length; i++) {
      const v = ints[i] * 256;
      six.set([v + 5000, v - 5000, v, v, v + 77, v - 77], 6 * i);
    }
    assert.equal(maxAbsDiff(await roundTrip({ encoding: 's24', channels: 6, sampleRate: 16000, extensible: true }, six), original), 0);
  });

  test('unknown chunks (with an odd-size pad byte) before the data are skipped', async () => {
    const bytes = writeWav(
      {
        encoding: 's16',
        channels: 1,
        sampleRate: 16000,
        extraChunks: [
          { id: 'LIST', body: new Uint8Array(13).fill(65) },
          { id: 'junk', body: new Uint8Array(6) },
        ],
      },
      ints,
    );
    assert.equal(maxAbsDiff(await decodeAudio(bytes), original), 0);
  });

  test('a data chunk shorter than declared is AUDIO_TRUNCATED; allowTruncated keeps its whole frames and warns once', async () => {
    const full = writeWav({ encoding: 's16', channels: 2, sampleRate: 16000 }, Int16Array.from({ length: 2000 }, (_, i) => i - 1000));
    // Cut 701 frames + 1 byte into the data (the header still says 1000).
    const cut = cutData(full, 701 * 4 + 1);
    await assert.rejects(decodeAudio(cut), (error: unknown) => isMoxingError(error, 'AUDIO_TRUNCATED') && /declares 4000 bytes .* holds 2804/.test(error.message));
    const warnings: string[] = [];
    const decoded = await decodeAudio(cut, { allowTruncated: true, onTruncated: (reason) => warnings.push(reason) });
    assert.equal(decoded.length, 701, 'the partial frame is dropped');
    assert.equal(decoded[3], (6 - 1000 + 7 - 1000) / 2 / 32768);
    assert.deepEqual(warnings, ['its header declares 4000 bytes of samples and the file holds 2804 (0.04 s of 0.06 s)']);
    // A declared size that is not a whole number of frames, all present, is not truncated.
    assert.equal((await decodeAudio(withDataSize(full, 4001))).length, 1000);
  });

  test('open data lengths (0xFFFFFFFF, 0, sox\'s 0x7FFFF000) are read to the end; RF64 takes its size from ds64', async () => {
    const full = writeWav({ encoding: 's16', channels: 2, sampleRate: 16000 }, Int16Array.from({ length: 2000 }, (_, i) => i - 1000));
    const whole = await decodeAudio(full);
    for (const size of [0xffffffff, 0, 0x7ffff000]) {
      const warnings: string[] = [];
      const decoded = await decodeAudio(withDataSize(full, size), { onTruncated: (reason) => warnings.push(reason) });
      assert.equal(maxAbsDiff(decoded, whole), 0, `size 0x${size.toString(16)}`);
      assert.deepEqual(warnings, []);
    }

    // RF64: 'RF64' magic, a ds64 chunk with the 64-bit data size, 0xFFFFFFFF in the data header.
    const ds64 = new Uint8Array(8 + 28);
    ds64.set(Buffer.from('ds64'));
    const v = new DataView(ds64.buffer);
    v.setUint32(4, 28, true);
    v.setUint32(8 + 8, 600 * 4, true); // data size: 600 frames
    const rf64 = new Uint8Array(full.length + ds64.length);
    rf64.set(full.subarray(0, 12));
    rf64.set(Buffer.from('RF64'));
    rf64.set(ds64, 12);
    rf64.set(full.subarray(12), 12 + ds64.length);
    new DataView(rf64.buffer).setUint32(12 + ds64.length + 28, 0xffffffff, true);
    const rf = await decodeAudio(rf64);
    assert.equal(rf.length, 600);
    assert.equal(maxAbsDiff(rf, whole.subarray(0, 600)), 0);
    // ds64 declaring more than is there is truncated like any other size.
    await assert.rejects(decodeAudio(rf64.subarray(0, rf64.length - 2000 * 4 + 500 * 4)), (error: unknown) => isMoxingError(error, 'AUDIO_TRUNCATED'));
  });

  test('WAVs that ffmpeg and sox write to a pipe (open lengths) decode to every sample, without a warning', async () => {
    // ffmpeg writes 0xFFFFFFFF as the RIFF and data sizes when it cannot seek back; sox writes 0x7FFFF000.
    const piped = [
      execFileSync('ffmpeg', ['-loglevel', 'error', '-i', JFK_WAV, '-f', 'wav', '-'], { maxBuffer: 1 << 24 }),
      execFileSync('sox', ['-V1', '-t', 'raw', '-r', '16000', '-e', 'signed', '-b', '16', '-c', '1', '-', '-t', 'wav', '-'], {
        input: Buffer.from(ints.buffer, ints.byteOffset, ints.byteLength),
        maxBuffer: 1 << 24,
      }),
    ];
    assert.equal(new DataView(piped[0].buffer, piped[0].byteOffset).getUint32(chunkOffset(piped[0], 'data') + 4, true), 0xffffffff);
    assert.equal(new DataView(piped[1].buffer, piped[1].byteOffset).getUint32(chunkOffset(piped[1], 'data') + 4, true), 0x7ffff000);
    for (const bytes of piped) {
      const warnings: string[] = [];
      const decoded = await decodeAudio(new Uint8Array(bytes), { onTruncated: (reason) => warnings.push(reason) });
      assert.equal(maxAbsDiff(decoded, original), 0);
      assert.deepEqual(warnings, []);
    }
  });

  test('sample rates outside 1000..384000 Hz and channel counts outside 1..64 are AUDIO_INVALID; the limits themselves decode', async () => {
    assert.deepEqual({ ...WAV_LIMITS }, { minSampleRateHz: 1000, maxSampleRateHz: 384_000, maxChannels: 64 });
    const tone = (n: number): Int16Array => Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin(i / 3)));
    for (const [sampleRate, channels] of [[999, 1], [384_001, 1], [1, 1], [16000, 0], [16000, 65], [0xffffffff, 1]]) {
      const bytes = writeWav({ encoding: 's16', channels: Math.max(channels, 1), sampleRate }, tone(Math.max(channels, 1) * 10));
      const view = new DataView(bytes.buffer);
      view.setUint16(22, channels, true);
      view.setUint16(32, channels * 2, true); // keep block align consistent: only the limit is wrong
      await assert.rejects(decodeAudio(bytes), (error: unknown) => {
        assert.ok(isMoxingError(error, 'AUDIO_INVALID'), String(error));
        assert.match(error.message, channels === 1 ? new RegExp(`sample rate of ${sampleRate} Hz; a WAV has 1000 to 384000 Hz`) : new RegExp(`${channels} channels; a WAV has 1 to 64`));
        return true;
      });
    }
    // At the limits: 1000 Hz upsamples 16x, 384 kHz downsamples 24x, 64 channels are averaged.
    assert.equal((await decodeAudio(writeWav({ encoding: 's16', channels: 1, sampleRate: 1000 }, tone(1000)))).length, 16_000);
    assert.equal((await decodeAudio(writeWav({ encoding: 's16', channels: 1, sampleRate: 384_000 }, tone(384_000)))).length, 16_000);
    const wide = new Int16Array(64 * 100).fill(1000);
    const mono = await decodeAudio(writeWav({ encoding: 's16', channels: 64, sampleRate: 16000 }, wide));
    assert.deepEqual([...new Set(mono)], [1000 / 32768]);
  });

  test('8 / 22.05 / 44.1 / 48 kHz WAVs (sox) resample to features within 0.02 of the 16 kHz original', async () => {
    // Each file went through sox's band-limited resampler and then ours; both cut near the lower Nyquist, so bins
    // centred above 7 kHz (3.5 kHz for the 8 kHz file) are left out. The 16-bit ones were also requantized with dither
    // by sox. 0.02 in whisper's (log10 + 4) / 4 units is 0.8 dB; measured errors are 0.0004-0.007.
    const cases: Array<[string, string[], number]> = [
      ['8k-s16', ['-b', '16', 'rate', '8000'], 3500],
      ['22k-s24', ['-b', '24', 'rate', '22050'], 7000],
      ['44k-stereo-s16', ['-c', '2', '-b', '16', 'rate', '44100'], 7000],
      ['48k-f32', ['-e', 'floating-point', '-b', '32', 'rate', '48000'], 7000],
    ];
    for (const [name, effect, maxHz] of cases) {
      const path = join(dir, `${name}.wav`);
      const rateAt = effect.indexOf('rate');
      execFileSync('sox', [JFK_WAV, ...effect.slice(0, rateAt), path, ...effect.slice(rateAt)]);
      const decoded = await decodeAudio(path);
      assert.ok(Math.abs(decoded.length - original.length) <= 1, `${name}: ${decoded.length} samples`);
      const error = melDiff(logMelSpectrogram(padOrTrim(decoded), 80), originalMel, maxHz, 1100);
      assert.ok(error <= 0.02, `${name}: log-mel error ${error}`);
    }
  });
});
