/**
 * The mel worker of the batched pipeline: its mel is bit-equal to the main thread's for every kind of input,
 * and its errors are the main thread's (code and message). Stopping early is checked in a child process by
 * stop-early.slow.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aheadByOne, melBatch, windowSamples } from '../../../../src/asr/whisper/batched/mel.js';
import { keptMelWorkers, MelWorker } from '../../../../src/asr/whisper/batched/prefetch.js';
import { WindowReader, type AudioWindow } from '../../../../src/asr/whisper/index.js';
import { SAMPLE_RATE, decodeAudio, streamAudio } from '../../../../src/audio/index.js';
import { MoxingError } from '../../../../src/errors.js';

const SHARED = join(process.cwd(), '..', 'shared');
const LONG = join(SHARED, 'audio', 'dev', 'long', 'en_long_00.wav');
const FLAC = join(SHARED, 'audio', 'jfk.flac');
const S = SAMPLE_RATE;

/** Irregular windows (as the VAD gives): a short one, gaps, a full 30 s one, one running past the end. */
function windowsOf(totalSamples: number): AudioWindow[] {
  const w: AudioWindow[] = [
    { start: Math.round(0.37 * S), end: Math.round(4.2 * S) },
    { start: 6 * S, end: 36 * S },
    { start: 40 * S + 123, end: 52 * S },
  ].filter((x) => x.start < totalSamples);
  w.push({ start: totalSamples - 3 * S, end: totalSamples + 2 * S });
  return w;
}

function bitEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${what}: bits differ`);
}

/** The main thread's mel of `windows` in batches of 2, read from `chunks`. */
async function inThread(chunks: AsyncIterable<Float32Array>, windows: readonly AudioWindow[]): Promise<Float32Array[]> {
  const reader = new WindowReader(chunks);
  const out: Float32Array[] = [];
  try {
    for await (const b of aheadByOne(windows, 2, (batch) => melBatch(batch, 80, (w) => reader.read(w)))) out.push(b.mel);
  } finally {
    await reader.close();
  }
  return out;
}

async function inWorker(input: string | Uint8Array | Float32Array, windows: readonly AudioWindow[], nMels: 80 | 128 = 80): Promise<Float32Array[]> {
  const worker = new MelWorker(input, nMels);
  const out: Float32Array[] = [];
  try {
    for await (const b of aheadByOne(windows, 2, (batch) => worker.prepare(batch))) out.push(b.mel);
  } finally {
    await worker.close();
  }
  return out;
}

test('worker mel is bit-equal to the main thread mel: WAV path, in-memory samples, file bytes through ffmpeg', async () => {
  const samples = await decodeAudio(LONG);
  const windows = windowsOf(samples.length);
  const want = await inThread(streamAudio(LONG), windows);
  assert.equal(want.length, 2);
  assert.equal(want[0].length, 2 * 80 * 3000);

  const fromPath = await inWorker(LONG, windows);
  want.forEach((m, i) => bitEqual(fromPath[i], m, `path, batch ${i}`));

  const copy = samples.slice();
  const fromSamples = await inWorker(samples, windows);
  want.forEach((m, i) => bitEqual(fromSamples[i], m, `samples, batch ${i}`));
  bitEqual(samples, copy, 'the caller’s samples are left as they were (not transferred away)');

  // A FLAC file's bytes: the worker pipes them through ffmpeg, as streamAudio does here.
  const flac = readFileSync(FLAC);
  const flacSamples = await decodeAudio(flac);
  const flacWindows: AudioWindow[] = [{ start: 0, end: 5 * S }, { start: 5 * S, end: flacSamples.length + 100 }];
  const flacWant = await inThread(streamAudio(flac), flacWindows);
  const flacGot = await inWorker(flac, flacWindows);
  bitEqual(flacGot[0], flacWant[0], 'flac bytes');

  // 128 bins (large-v3): the worker computes what the main thread computes.
  const [m128] = await inWorker(samples, windows.slice(0, 1), 128);
  bitEqual(m128, await melBatch(windows.slice(0, 1), 128, (w) => windowSamples(samples, w)), '128 bins');
});

/** The error the main thread gets from streaming `input`, for comparison. */
async function inThreadError(input: string | Uint8Array, ffmpegPath?: string): Promise<unknown> {
  try {
    for await (const _ of streamAudio(input, { ffmpegPath })) void _;
  } catch (error) {
    return error;
  }
  assert.fail('streaming was expected to fail');
}

test('worker errors are the main thread errors: missing file, ffmpeg missing, not audio', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-prefetch-'));
  try {
    const garbage = join(dir, 'garbage.mp3');
    writeFileSync(garbage, Buffer.from('this is not audio at all, just text pretending to be an mp3 file'));
    const cases: [string, string | Uint8Array, string | undefined, string][] = [
      ['missing file', join(dir, 'missing.wav'), undefined, 'FILE_NOT_FOUND'],
      ['ffmpeg missing', FLAC, join(dir, 'no-ffmpeg-here'), 'AUDIO_UNSUPPORTED'],
      ['not audio', garbage, undefined, 'AUDIO_INVALID'],
      ['not audio, as bytes', readFileSync(garbage), undefined, 'AUDIO_INVALID'],
    ];
    for (const [name, input, ffmpegPath, code] of cases) {
      const expected = (await inThreadError(input, ffmpegPath)) as MoxingError;
      assert.equal(expected.code, code, name);
      const worker = new MelWorker(input, 80, { ffmpegPath });
      try {
        await assert.rejects(worker.prepare([{ start: 0, end: S }]), (e) => e instanceof MoxingError && e.code === expected.code && e.message === expected.message, name);
      } finally {
        await worker.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('MelWorker refuses misuse and closing twice is harmless', async () => {
  const worker = new MelWorker(new Float32Array(S), 80);
  const first = worker.prepare([{ start: 0, end: S }]);
  await assert.rejects(worker.prepare([{ start: 0, end: S }]), (e) => e instanceof MoxingError && /pending/.test(e.message));
  assert.equal((await first).length, 80 * 3000);
  await Promise.all([worker.close(), worker.close()]);
  await assert.rejects(worker.prepare([{ start: 0, end: S }]), (e) => e instanceof MoxingError && /after close/.test(e.message));
});

test('a closed run leaves its thread kept for the next; a kept thread that dies while idle is not handed out', { timeout: 30_000 }, async () => {
  const run = async (): Promise<number> => {
    const worker = new MelWorker(new Float32Array(S), 80);
    try {
      return (await worker.prepare([{ start: 0, end: S }])).length;
    } finally {
      await worker.close();
    }
  };
  assert.equal(await run(), 80 * 3000);
  const kept = keptMelWorkers();
  assert.ok(kept.length >= 1, 'the thread is kept after its run closed in order');
  await Promise.all(kept.map((w) => w.terminate()));
  assert.equal(keptMelWorkers().length, 0, 'a thread that stopped leaves the idle list');
  // The next run starts a thread of its own and is answered (a dead thread would leave it waiting forever).
  assert.equal(await run(), 80 * 3000);
});
