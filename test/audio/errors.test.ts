/** Every way decoding can fail gives a coded MoxingError whose message names the input and the fix. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMoxingError, type ErrorCode } from '../../src/errors.js';
import { decodeAudio, streamAudio } from '../../src/audio/index.js';
import { JFK_WAV, SHARED } from './fixtures.js';
import { writeWav } from './wav-writer.js';

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
    ['zero-channels.wav', corrupt((_, v) => v.setUint16(22, 0, true)), /0 channels/],
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
