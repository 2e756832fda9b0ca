/**
 * Stopping the batched pipeline early (the consumer breaks, the decoder throws) ends the mel worker and ffmpeg
 * with no unhandled rejection and nothing left to keep the process alive: checked in a child process, whose
 * exit is the proof, so it sits in the slow tier.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const SHARED = join(process.cwd(), '..', 'shared');
const MODEL = join(SHARED, 'models', 'whisper-tiny-random');
const LONG = join(SHARED, 'audio', 'dev', 'long', 'en_long_00.wav');

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
// OS threads at rest, once a whole run has started every pool it uses; its mel worker thread is kept warm for
// the next run, so it counts as at rest.
const threads = () => readdirSync('/proc/self/task').length;
for await (const _ of transcribeStream(${JSON.stringify(flac)}, options)) void _;
const atRest = threads();
let segments = 0;
for await (const segment of transcribeStream(${JSON.stringify(flac)}, options)) {
  segments++;
  out.ffmpegWhileRunning = liveFfmpeg();
  out.keptWorkerServes = threads() === atRest; // the first run's worker, not a new thread
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
      keptWorkerServes: true,
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
