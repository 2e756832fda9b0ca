/**
 * The audio input contract at the command line (in-process): a WAV header out of bounds or a cut file fails with
 * one line, exit 1 and no output file; `--allow-truncated` transcribes, aligns or finds speech in what is there,
 * with one warning line per truncated file (sequential and batched --vad pipelines, vad, align).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertOneLineError, type CliRun } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { ensureWav2Vec2Model } from '../models/wav2vec2.js';
import { cutData, writeWav } from '../audio/wav-writer.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
const CLIP = join(SHARED, 'audio/dev/single/en_000.wav');
const dir = mkdtempSync(join(tmpdir(), 'moxing-audio-input-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const clip = new Uint8Array(readFileSync(CLIP));
// The clip's data chunk follows a 44-byte header: cut it halfway, or right after the header.
const clipDataBytes = clip.length - 44;
const half = file('half.wav', cutData(clip, clipDataBytes / 2));
const headerOnly = file('header-only.wav', cutData(clip, 0));
const oneHertz = file('one-hertz.wav', writeWav({ encoding: 's16', channels: 1, sampleRate: 1 }, Int16Array.from({ length: 10_000 }, (_, i) => (i * 97) % 20000)));

function transcribe(input: string, out: string, ...extra: string[]): Promise<CliRun> {
  return runMoxingInProcess(['transcribe', input, '--model', MODEL, '--language', 'en', '-o', out, '-f', 'json', '--no-verbose', '--temperature-increment-on-fallback', '0', ...extra]);
}

function assertNoOutput(out: string): void {
  assert.ok(!existsSync(out) || readdirSync(out).length === 0, `no output file is left in ${out}`);
}

test('hole 6: transcribe and vad on a 20 KB WAV declaring 1 Hz fail in one line with exit 1 (not a crash)', async () => {
  for (const extra of [[], ['--vad']]) {
    const out = join(dir, `one-hertz${extra.join('')}`);
    const run = await transcribe(oneHertz, out, ...extra);
    assertOneLineError(run, /one-hertz\.wav is not a readable WAV file: the fmt chunk declares a sample rate of 1 Hz; a WAV has 1000 to 384000 Hz/, 1);
    assertNoOutput(out);
  }
  assertOneLineError(await runMoxingInProcess(['vad', oneHertz]), /one-hertz\.wav .*sample rate of 1 Hz/, 1);
});

test('hole 7: a header-only or half-data WAV fails with AUDIO_TRUNCATED in one line, exit 1, no output (sequential and --vad)', async () => {
  for (const [input, pattern] of [
    [headerOnly, /header-only\.wav is truncated: its header declares \d+ bytes of samples .* before the first frame/],
    [half, /half\.wav is truncated: its header declares \d+ bytes of samples and the file holds \d+ .*--allow-truncated/],
  ] as const) {
    for (const extra of [[], ['--vad']]) {
      const out = join(dir, `truncated-${extra.join('')}`);
      assertOneLineError(await transcribe(input, out, ...extra), pattern, 1);
      assertNoOutput(out);
    }
    assertOneLineError(await runMoxingInProcess(['vad', input]), pattern, 1);
  }
  // --allow-truncated cannot make something of nothing.
  const out = join(dir, 'header-only-allowed');
  assertOneLineError(await transcribe(headerOnly, out, '--allow-truncated'), /header-only\.wav is truncated/, 1);
  assertNoOutput(out);
});

test('--allow-truncated transcribes the half-data WAV with one warning line, as the same samples in an intact WAV (sequential and batched --vad)', async () => {
  // The first half of the clip with a header that says so: what --allow-truncated must transcribe.
  const intact = file('intact-half.wav', writeWav({ encoding: 's16', channels: 1, sampleRate: 16000 }, new Int16Array(clip.slice(44, 44 + clipDataBytes / 2).buffer)));
  for (const extra of [[], ['--vad']]) {
    const out = join(dir, `allowed${extra.join('')}`);
    const run = await transcribe(half, out, '--allow-truncated', ...extra);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^moxing: warning: .*half\.wav is truncated: its header declares \d+ bytes of samples and the file holds \d+ \([\d.]+ s of [\d.]+ s\)\n$/);
    assert.deepEqual(readdirSync(out), ['half.json']);
    const reference = await transcribe(intact, out, ...extra);
    assert.equal(reference.code, 0, reference.stderr);
    assert.equal(reference.stderr, '', 'an intact file gives no warning');
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'half.json'), 'utf8')), JSON.parse(readFileSync(join(out, 'intact-half.json'), 'utf8')));
  }
});

test('vad --allow-truncated finds speech in what is there, with one warning line', async () => {
  const run = await runMoxingInProcess(['vad', half, '--json', '--allow-truncated']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^moxing: warning: .*half\.wav is truncated: .*\n$/);
  const result = JSON.parse(run.stdout);
  assert.equal(result.durationS, clipDataBytes / 2 / 2 / 16000);
});

test('align reads audio under the same contract: AUDIO_TRUNCATED, or --allow-truncated with one warning line', async () => {
  const transcript = join(dir, 'words.txt');
  writeFileSync(transcript, 'hello world\n');
  const model = ensureWav2Vec2Model();
  const out = join(dir, 'align-refused');
  assertOneLineError(await runMoxingInProcess(['align', half, transcript, '--align-model', model, '--output-dir', out]), /half\.wav is truncated/, 1);
  assertNoOutput(out);
  const allowed = join(dir, 'align-allowed');
  const run = await runMoxingInProcess(['align', half, transcript, '--align-model', model, '--output-dir', allowed, '--allow-truncated']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^moxing: warning: .*half\.wav is truncated: .*\n$/);
  assert.deepEqual(readdirSync(allowed), ['half.json']);
});

test('a flac cut in half (ffmpeg reports decoding errors): one-line AUDIO_TRUNCATED, or --allow-truncated with one warning (sequential and --vad)', async () => {
  const flac = join(dir, 'clip.flac');
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-i', CLIP, '-c:a', 'flac', flac]);
  const bytes = readFileSync(flac);
  const cut = file('cut.flac', bytes.subarray(0, bytes.length >> 1));
  for (const extra of [[], ['--vad']]) {
    const out = join(dir, `flac${extra.join('')}`);
    assertOneLineError(await transcribe(cut, out, ...extra), /cut\.flac is truncated: ffmpeg reported errors decoding it \(".+"\), so it is cut or damaged/, 1);
    assertNoOutput(out);
    const run = await transcribe(cut, out, '--allow-truncated', ...extra);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^moxing: warning: .*cut\.flac is truncated: ffmpeg reported errors decoding it .*\n$/);
    assert.deepEqual(readdirSync(out), ['cut.json']);
  }
});
