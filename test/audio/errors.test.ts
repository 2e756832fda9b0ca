/** Every way decoding can fail gives a coded MoxingError whose message names the input and the fix. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { isMoxingError, type ErrorCode } from '../../src/errors.js';
import { decodeAudio, streamAudio } from '../../src/audio/index.js';
import { JFK_WAV, SHARED } from './fixtures.js';
import { cutData, withDataSize, writeWav } from './wav-writer.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('audio/errors', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'moxing-audio-errors-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function file(name: string, bytes: Uint8Array | string): string {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  }

  async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, ...mentions: RegExp[]): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(isMoxingError(error, code), `expected ${code}, got ${String(error)}`);
      for (const pattern of mentions) assert.match(error.message, pattern);
      return true;
    });
  }

  const validWav = (): Uint8Array => writeWav({ encoding: 's16', channels: 1, sampleRate: 16000 }, Int16Array.from({ length: 100 }, (_, i) => i));

  test('a missing file is FILE_NOT_FOUND', async () => {
    const path = join(dir, 'nope.wav');
    await rejectsWith(decodeAudio(path), 'FILE_NOT_FOUND', /nope\.wav/);
    await rejectsWith(decodeAudio(join(dir, 'nope.mp3')), 'FILE_NOT_FOUND', /nope\.mp3/);
  });

  test('an empty file or buffer is FILE_EMPTY', async () => {
    await rejectsWith(decodeAudio(file('empty.wav', '')), 'FILE_EMPTY', /empty\.wav/, /empty/);
    await rejectsWith(decodeAudio(new Uint8Array(0)), 'FILE_EMPTY');
  });

  test('truncated or corrupt WAV headers are AUDIO_INVALID', async () => {
    const wav = validWav();
    const corrupt = (edit: (bytes: Uint8Array, view: DataView) => void): Uint8Array => {
      const bytes = wav.slice();
      edit(bytes, new DataView(bytes.buffer));
      return bytes;
    };
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['riff-only.wav', wav.subarray(0, 10), /truncated/],
      ['cut-in-fmt.wav', wav.subarray(0, 30), /fmt/],
      ['no-data.wav', wav.subarray(0, 36), /no data chunk/],
      ['zero-channels.wav', corrupt((_, v) => v.setUint16(22, 0, true)), /declares 0 channels/],
      ['zero-rate.wav', corrupt((_, v) => v.setUint32(24, 0, true)), /sample rate/],
      ['bad-align.wav', corrupt((_, v) => v.setUint16(32, 3, true)), /block align/],
      ['tiny-fmt.wav', corrupt((_, v) => v.setUint32(16, 8, true)), /fmt chunk/],
    ];
    for (const [name, bytes, message] of cases) await rejectsWith(decodeAudio(file(name, bytes)), 'AUDIO_INVALID', new RegExp(name), message);
  });

  test('a file that is not audio is AUDIO_INVALID with ffmpeg\'s reason', async () => {
    const path = file('notes.mp3', 'these are not the sounds you are looking for\n'.repeat(50));
    await rejectsWith(decodeAudio(path), 'AUDIO_INVALID', /notes\.mp3/, /ffmpeg says "[^"]+"/);
    // The same for bytes, and a .wav name does not fool the decoder into the WAV path.
    await rejectsWith(decodeAudio(new Uint8Array(readFileSync(path))), 'AUDIO_INVALID', /ffmpeg says/);
    await rejectsWith(decodeAudio(file('fake.wav', readFileSync(path))), 'AUDIO_INVALID', /ffmpeg says/);
  });

  test('a non-WAV format without ffmpeg is AUDIO_UNSUPPORTED and says to install ffmpeg', async () => {
    const saved = process.env.MOXING_FFMPEG;
    process.env.MOXING_FFMPEG = join(dir, 'no-ffmpeg-here');
    try {
      await rejectsWith(decodeAudio(`${SHARED}audio/jfk.flac`), 'AUDIO_UNSUPPORTED', /jfk\.flac/, /[Ii]nstall ffmpeg/, /MOXING_FFMPEG/);
      // A WAV with a compressed codec (here IMA ADPCM, code 0x11) also needs ffmpeg...
      const adpcm = validWav();
      new DataView(adpcm.buffer).setUint16(20, 0x11, true);
      await rejectsWith(decodeAudio(file('adpcm.wav', adpcm)), 'AUDIO_UNSUPPORTED', /adpcm\.wav/);
      // ...while PCM WAV needs no ffmpeg at all.
      assert.equal((await decodeAudio(JFK_WAV)).length, 176_000);
    } finally {
      if (saved === undefined) delete process.env.MOXING_FFMPEG;
      else process.env.MOXING_FFMPEG = saved;
    }
    await rejectsWith(decodeAudio(`${SHARED}audio/jfk.flac`, { ffmpegPath: join(dir, 'nope') }), 'AUDIO_UNSUPPORTED');
  });

  test('a directory or a bad chunk length is BAD_ARGUMENT', async () => {
    await rejectsWith(decodeAudio(dir), 'BAD_ARGUMENT', /directory/);
    await rejectsWith(streamAudio(JFK_WAV, { chunkSeconds: 0 }).next(), 'BAD_ARGUMENT', /chunkSeconds/);
  });

  test('hole 6: a 20 KB WAV that declares 1 Hz is AUDIO_INVALID at once (it used to grow a 160M-sample array and crash)', async () => {
    const bytes = writeWav({ encoding: 's16', channels: 1, sampleRate: 1 }, Int16Array.from({ length: 10_000 }, (_, i) => (i * 97) % 20000));
    assert.ok(bytes.length > 20_000);
    const path = file('one-hertz.wav', bytes);
    await rejectsWith(decodeAudio(path), 'AUDIO_INVALID', /one-hertz\.wav/, /sample rate of 1 Hz/, /1000 to 384000 Hz/);
    await rejectsWith(streamAudio(path).next(), 'AUDIO_INVALID', /sample rate of 1 Hz/);
  });

  test('hole 7: a WAV with its header and no data, or half its data, is AUDIO_TRUNCATED', async () => {
    const wav = writeWav({ encoding: 's16', channels: 1, sampleRate: 16000 }, Int16Array.from({ length: 16_000 }, (_, i) => (i * 7) % 3000));
    const headerOnly = file('header-only.wav', cutData(wav, 0));
    const half = file('half.wav', cutData(wav, 16_000));
    await rejectsWith(decodeAudio(headerOnly), 'AUDIO_TRUNCATED', /header-only\.wav is truncated/, /declares 32000 bytes/, /before the first frame/);
    await rejectsWith(decodeAudio(half), 'AUDIO_TRUNCATED', /half\.wav is truncated/, /holds 16000 \(0\.50 s of 1\.00 s\)/, /--allow-truncated/);
    await rejectsWith(streamAudio(half).next(), 'AUDIO_TRUNCATED');
    // allowTruncated uses what is there, and says so once; with nothing there, there is nothing to use.
    const warnings: string[] = [];
    assert.equal((await decodeAudio(half, { allowTruncated: true, onTruncated: (reason) => warnings.push(reason) })).length, 8000);
    assert.equal(warnings.length, 1);
    await rejectsWith(decodeAudio(headerOnly, { allowTruncated: true }), 'AUDIO_TRUNCATED', /before the first frame/);
  });

  test('an input that decodes to no samples is AUDIO_INVALID, never an empty result', async () => {
    // A WAV whose data chunk is really empty (an open length with nothing after it).
    const empty = withDataSize(cutData(validWav(), 0), 0);
    await rejectsWith(decodeAudio(file('no-samples.wav', empty)), 'AUDIO_INVALID', /no-samples\.wav holds no audio samples/);
    await rejectsWith(decodeAudio(empty), 'AUDIO_INVALID', /no audio samples/);
    // Less than one frame of a stereo 24-bit file.
    const stereo = writeWav({ encoding: 's24', channels: 2, sampleRate: 16000 }, [1, 2]);
    await rejectsWith(decodeAudio(withDataSize(stereo.subarray(0, stereo.length - 1), 0)), 'AUDIO_INVALID', /no audio samples/);
  });

  test('errors name the input as it was given: no absolute path, no file contents', async () => {
    const secret = 'SECRET-CONTENT-7f3a';
    const given = (name: string, bytes: Uint8Array | string): string => relative(process.cwd(), file(name, bytes));
    const wav = writeWav({ encoding: 's16', channels: 1, sampleRate: 16000 }, Int16Array.from({ length: 1000 }));
    const cases: Array<[string, Uint8Array | string]> = [
      ['cut.wav', cutData(wav, 100)],
      ['rate.wav', writeWav({ encoding: 's16', channels: 1, sampleRate: 5 }, [1, 2, 3])],
      ['text.mp3', `${secret}\n`.repeat(100)],
      ['text.wav', `RIFF....WAVE${secret}`.repeat(20)],
    ];
    for (const [name, bytes] of cases) {
      const path = given(name, bytes);
      await assert.rejects(decodeAudio(path), (error: unknown) => {
        assert.ok(isMoxingError(error), String(error));
        assert.ok(error.message.includes(path), error.message);
        // The temporary folder's name appears only inside the relative path as given, never resolved.
        assert.ok(!error.message.split(path).join('').includes(basename(dir)), `a resolved path in: ${error.message}`);
        assert.ok(!error.message.includes(secret), `file contents in: ${error.message}`);
        return true;
      });
    }
  });
});
