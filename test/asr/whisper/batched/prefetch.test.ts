/**
 * The mel worker of the batched pipeline: its mel is bit-equal to the main thread's for every kind of input,
 * its errors are the main thread's (code and message), and stopping early (the consumer breaks, the decoder
 * throws) ends the worker and ffmpeg with no unhandled rejection and nothing left to keep the process alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { aheadByOne, melBatch, windowSamples } from '../../../../src/asr/whisper/batched/mel.js';
import { MelWorker } from '../../../../src/asr/whisper/batched/prefetch.js';
import { WindowReader, type AudioWindow } from '../../../../src/asr/whisper/index.js';
import { SAMPLE_RATE, decodeAudio, streamAudio } from '../../../../src/audio/index.js';
import { MoxingError } from '../../../../src/errors.js';

const SHARED = join(process.cwd(), '..', 'shared');
const MODEL = join(SHARED, 'models', 'whisper-tiny-random');
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

/**
 * Run in a child process, so that "nothing is left running" is checked as the process exiting by itself:
 * the batched pipeline on a FLAC file (ffmpeg in the worker), one 30 s window per batch, stopped after the
 * first segment; then with a decoder that throws. Prints what it saw as JSON.
 */
const CHILD = (src: string, model: string, flac: string): string => `
import { readdirSync, readFileSync } from 'node:fs';
import { WhisperModel, transcribeStream } from ${JSON.stringify(src)};
const unhandled = [];
process.on('unhandledRejection', (e) => unhandled.push(String(e)));
/** Live (not zombie) ffmpeg processes whose parent is this process. */
function liveFfmpeg() {
  return readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync('/proc/' + p + '/stat', 'utf8');
      const [, comm, state, ppid] = /^\\d+ \\((.*)\\) (\\S) (\\d+)/.exec(stat) ?? [];
      return comm === 'ffmpeg' && state !== 'Z' && Number(ppid) === process.pid;
    } catch { return false; }
  }).length;
}
/** A SIGKILLed process dies when the kernel next schedules it: on a loaded machine, give it a moment. */
async function ffmpegGone() {
  for (let waited = 0; waited < 3000 && liveFfmpeg() > 0; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  return liveFfmpeg();
}
const model = await WhisperModel.load(${JSON.stringify(model)}, { runtime: { intraOpThreads: 1 } });
const options = { model, language: 'en', temperature: 0, sampleLen: 4, noSpeechThreshold: null, batchSize: 1, vad: false };
const out = { unhandled };
// OS threads at rest, once a whole run has started every pool it uses: the mel worker adds one while it lives.
const threads = () => readdirSync('/proc/self/task').length;
for await (const _ of transcribeStream(${JSON.stringify(flac)}, options)) void _;
const atRest = threads();
let segments = 0;
for await (const segment of transcribeStream(${JSON.stringify(flac)}, options)) {
  segments++;
  out.ffmpegWhileRunning = liveFfmpeg();
  out.workerWhileRunning = threads() > atRest;
  break;
}
out.segmentsBeforeBreak = segments;
out.ffmpegAfterBreak = await ffmpegGone();
out.threadsLeftAfterBreak = threads() - atRest;
const boom = new Error('decoder boom');
const failing = Object.create(model, { createRunner: { value: () => { throw boom; } } });
try {
  for await (const _ of transcribeStream(${JSON.stringify(flac)}, { ...options, model: failing })) void _;
  out.thrown = 'nothing';
} catch (error) {
  out.thrown = error === boom ? 'itself' : String(error);
}
out.ffmpegAfterThrow = await ffmpegGone();
out.threadsLeftAfterThrow = threads() - atRest;
console.log(JSON.stringify(out));
`;

test('stopping early: break after the first segment, or a decoder error, ends worker and ffmpeg; the process exits by itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-prefetch-'));
  try {
    const flac = join(dir, 'long.flac');
    const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', LONG, flac]);
    assert.equal(made.status, 0, `ffmpeg could not make the FLAC input: ${made.stderr}`);
    const script = join(dir, 'child.mts');
    const src = pathToFileURL(join(process.cwd(), 'src', 'asr', 'whisper', 'index.ts')).href;
    writeFileSync(script, CHILD(src, MODEL, flac));
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null, `the child did not exit by itself within 60 s:\n${child.stdout}\n${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    const seen = JSON.parse(child.stdout.trim().split('\n').at(-1) as string);
    assert.deepEqual(seen, {
      unhandled: [],
      segmentsBeforeBreak: 1,
      // The worker, one batch ahead, is reading the FLAC through ffmpeg when the first segment comes out.
      ffmpegWhileRunning: 1,
      workerWhileRunning: true,
      ffmpegAfterBreak: 0,
      threadsLeftAfterBreak: 0,
      thrown: 'itself',
      ffmpegAfterThrow: 0,
      threadsLeftAfterThrow: 0,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
