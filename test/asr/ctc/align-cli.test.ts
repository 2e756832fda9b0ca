import { alignerRef } from '../../../src/asr/ctc/index.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudio } from '../../../src/audio/index.js';
import { ensureWav2Vec2Model } from '../../models/wav2vec2.js';
import { runMoxing, type CliRun } from '../../helpers/cli.js';
import { runMoxingInProcess } from '../../helpers/cli-inprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'moxing-align-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ENV = { MOXING_OFFLINE: '1', MOXING_CACHE: join(dir, 'cache') };

/** The real process: the one smoke test of `moxing align`. */
function moxing(...args: string[]): Promise<CliRun> {
  return runMoxing(['align', ...args], ENV);
}

/** In-process: milliseconds instead of a process start; one run at a time. */
function moxingInProcess(...args: string[]): Promise<CliRun> {
  return runMoxingInProcess(['align', ...args], ENV);
}

const TEXT = 'the quick brown fox\njumps over 2 lazy dogs';

test('moxing align writes words with monotonic times inside the audio (espeak-ng clip)', async () => {
  const wav = join(dir, 'clip.wav');
  const made = spawnSync('espeak-ng', ['-w', wav, TEXT.replace('\n', '. ')]);
  assert.equal(made.status, 0, `espeak-ng failed: ${made.stderr}`);
  const duration = (await decodeAudio(wav)).length / 16000;
  writeFileSync(join(dir, 'clip.txt'), `${TEXT}\n`);
  const out = join(dir, 'out');
  const run = await moxing(wav, join(dir, 'clip.txt'), '--align-model', ensureWav2Vec2Model(), '--output-dir', out, '--output-format', 'json,srt');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['clip.json', 'clip.srt']);
  const result = JSON.parse(readFileSync(join(out, 'clip.json'), 'utf8'));
  assert.equal(result.segments.length, 2, 'one segment per transcript line');
  const words = result.segments.flatMap((s: { words: { word: string; start: number; end: number }[] }) => s.words);
  assert.deepEqual(words.map((w: { word: string }) => w.word.trim()), TEXT.split(/\s+/));
  let last = 0;
  for (const w of words) {
    assert.ok(w.start >= last - 1e-9 && w.end >= w.start && w.end <= duration + 1e-9, `${w.word} ${w.start}-${w.end} (audio ${duration} s)`);
    last = w.start;
  }
  assert.equal(run.stdout.trim().split('\n').length, words.length, 'one printed line per word');
  assert.match(readFileSync(join(out, 'clip.srt'), 'utf8'), /^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\nthe quick brown fox\n/);

  // subtitles as the transcript: each cue aligned inside its own span
  writeFileSync(join(dir, 'cues.srt'), `1\n00:00:00,000 --> 00:00:01,000\nthe quick\n\n2\n00:00:01,000 --> 00:00:${String(Math.floor(duration)).padStart(2, '0')},000\nbrown fox\n`);
  const cued = await moxingInProcess(wav, join(dir, 'cues.srt'), '--align-model', ensureWav2Vec2Model(), '--output-dir', join(dir, 'cued'));
  assert.equal(cued.code, 0, cued.stderr);
  const cuedResult = JSON.parse(readFileSync(join(dir, 'cued', 'clip.json'), 'utf8'));
  for (const [i, s] of cuedResult.segments.entries()) {
    for (const w of s.words) assert.ok(w.start >= [0, 1][i] && w.end <= [1, Math.floor(duration)][i] + 1e-9, JSON.stringify(w));
  }
});

test('moxing align errors: one line, non-zero exit, no output files', async () => {
  const model = ensureWav2Vec2Model();
  const out = join(dir, 'bad');
  writeFileSync(join(dir, 'empty.txt'), '  \n');
  writeFileSync(join(dir, 'some.txt'), 'hello\n');
  const cases: [string[], RegExp][] = [
    [[join(dir, 'clip.wav'), join(dir, 'missing.txt'), '--align-model', model], /transcript not found/],
    [[join(dir, 'clip.wav'), join(dir, 'empty.txt'), '--align-model', model], /transcript .* is empty/],
    [[join(dir, 'clip.wav'), join(dir, 'some.txt'), '--language', 'xx'], /no default alignment model for language "xx"/],
    [[join(dir, 'clip.wav'), join(dir, 'some.txt'), '--align-model', './no/such/folder'], /unknown model/],
  ];
  const runs: CliRun[] = [];
  for (const [args] of cases) runs.push(await moxingInProcess(...args, '--output-dir', out));
  runs.forEach((run, i) => {
    assert.notEqual(run.code, 0, `case ${i} exits non-zero`);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, cases[i][1]);
  });
  assert.equal(existsSync(out), false, 'no output written');
});

test('alignerRef: a language picks its default aligner, anything else is a model reference', () => {
  assert.equal(alignerRef('en'), 'Xenova/wav2vec2-base-960h');
  assert.equal(alignerRef('English'), 'Xenova/wav2vec2-base-960h');
  assert.equal(alignerRef('owner/aligner'), 'owner/aligner');
  assert.throws(() => alignerRef('de'), /no known ONNX export/);
  assert.throws(() => alignerRef('xx'), /no default alignment model for language "xx"/);
});

test('align has the -o/-f short forms and comma lists of formats, as transcribe does', async () => {
  for (const command of ['align', 'transcribe']) {
    const help = await runMoxingInProcess([command, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /-o, --output-dir <dir>/);
    assert.match(help.stdout, /-f, --output-format <formats>.*comma-separated list/s);
  }
});
