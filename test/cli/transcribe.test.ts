/**
 * `moxing transcribe` end to end with the shared tiny random Whisper: outputs in every format, segments on
 * stdout, several files with one model, and every error path (one line, non-zero exit, no output file).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertOneLineError } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { parseSrt, parseVtt } from '../../src/formats/index.js';
import { fallbackTemperatures } from '../../src/asr/whisper/index.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');
const CLIP = join(SHARED, 'audio/dev/single/en_000.wav');
const ORACLE = JSON.parse(readFileSync(join(MODEL, 'oracle-dev/single/en_000.json'), 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'moxing-transcribe-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const offline = { MOXING_OFFLINE: '1', MOXING_CACHE: join(dir, 'cache') };

function outDir(name: string): string {
  return join(dir, name);
}

test('transcribe writes every format atomically, prints segments, and matches openai/whisper on the clip', async () => {
  const out = outDir('all');
  // The oracle was decoded at T=0 only (random weights fail every threshold, so fallback would sample).
  const run = await runMoxingInProcess(['transcribe', CLIP, '--model', MODEL, '--output-dir', out, '--temperature-increment-on-fallback', '0'], offline);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['en_000.json', 'en_000.srt', 'en_000.tsv', 'en_000.txt', 'en_000.vtt']);
  const json = JSON.parse(readFileSync(join(out, 'en_000.json'), 'utf8'));
  assert.equal(json.text, ORACLE.text);
  assert.equal(json.language, ORACLE.language);
  assert.equal(json.segments.length, ORACLE.segments.length);
  // Each decoded segment is printed as openai's verbose line.
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, ORACLE.segments.length);
  assert.match(lines[0], /^\[\d\d:\d\d\.\d\d\d --> \d\d:\d\d\.\d\d\d\] /);
  const srt = parseSrt(readFileSync(join(out, 'en_000.srt'), 'utf8'));
  const vtt = parseVtt(readFileSync(join(out, 'en_000.vtt'), 'utf8'));
  assert.equal(srt.length, vtt.length);
  for (const [i, cue] of srt.entries()) {
    assert.ok(Math.abs(cue.start - ORACLE.segments[i].start) <= 0.0011);
    assert.equal(cue.text, ORACLE.segments[i].text.trim());
  }
});

test('several files share one model run; one bad file fails alone and the others are written', async () => {
  // Seeded sampling (one temperature, no fallback ladder): both copies of the clip must still decode identically.
  const out = outDir('many');
  const second = join(dir, 'second.wav');
  copyFileSync(CLIP, second);
  const run = await runMoxingInProcess(['transcribe', CLIP, join(dir, 'missing.wav'), second, '--model', MODEL, '-o', out, '-f', 'txt', '--no-verbose', '--temperature', '0.7', '--temperature-increment-on-fallback', '0', '--seed', '3'], offline);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /missing\.wav/);
  assert.deepEqual(readdirSync(out).sort(), ['en_000.txt', 'second.txt']);
  assert.equal(readFileSync(join(out, 'en_000.txt'), 'utf8'), readFileSync(join(out, 'second.txt'), 'utf8'));
});

test('translate, a given language, beam search and temperature options are accepted', async () => {
  const out = outDir('options');
  const run = await runMoxingInProcess(
    ['transcribe', CLIP, '-m', MODEL, '-o', out, '-f', 'json', '--task', 'translate', '--language', 'Spanish', '--beam-size', '2', '--temperature-increment-on-fallback', '0', '--no-verbose'],
    offline,
  );
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(readFileSync(join(out, 'en_000.json'), 'utf8'));
  assert.equal(json.language, 'es');
  for (const segment of json.segments) assert.equal(segment.temperature, 0);
});

test('error paths: one line, non-zero exit, no output file', async (t) => {
  const empty = join(dir, 'empty.wav');
  writeFileSync(empty, '');
  const truncated = join(dir, 'truncated.wav');
  writeFileSync(truncated, readFileSync(CLIP).subarray(0, 20));
  const text = join(dir, 'notes.wav');
  writeFileSync(text, 'this is not audio at all, just text\n'.repeat(20));
  const mp3 = join(dir, 'clip.mp3');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', CLIP, mp3]);

  const cases: { name: string; args: string[]; env?: NodeJS.ProcessEnv; pattern: RegExp; exit?: number }[] = [
    { name: 'missing file', args: [join(dir, 'nope.wav')], pattern: /nope\.wav.*(not exist|not found)/i },
    { name: 'empty file', args: [empty], pattern: /empty/i },
    { name: 'truncated WAV', args: [truncated], pattern: /truncated\.wav|WAV|header/i },
    { name: 'not audio', args: [text], pattern: /notes\.wav|audio|ffmpeg/i },
    { name: 'mp3 without ffmpeg', args: [mp3], env: { MOXING_FFMPEG: join(dir, 'no-ffmpeg') }, pattern: /ffmpeg/ },
    { name: 'unknown model', args: [CLIP, '--model', 'whisper-huge-v9'], pattern: /whisper-huge-v9/ },
    { name: 'offline with files missing', args: [CLIP, '--model', 'whisper-tiny'], pattern: /offline.*moxing pull whisper-tiny/i },
    { name: 'bad beam size', args: [CLIP, '--beam-size', 'two'], pattern: /--beam-size.*"two"/, exit: 2 },
    { name: 'bad task', args: [CLIP, '--task', 'summarize'], pattern: /--task.*summarize/, exit: 2 },
    { name: 'bad language', args: [CLIP, '--language', 'klingon'], pattern: /klingon/ },
    { name: 'bad output format', args: [CLIP, '--output-format', 'docx'], pattern: /--output-format.*docx/, exit: 2 },
    { name: 'bad device', args: [CLIP, '--device', 'tpu'], pattern: /--device.*tpu/, exit: 2 },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const out = outDir(`error-${c.name.replace(/\W+/g, '-')}`);
      const args = ['transcribe', ...c.args, '-o', out];
      if (!c.args.includes('--model')) args.push('--model', MODEL);
      const run = await runMoxingInProcess(args, { ...offline, ...c.env });
      assertOneLineError(run, c.pattern, c.exit);
      assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'no output file is left');
    });
  }
});

test('--no-speech-threshold reaches the decoder: at 0 every improbable window is skipped as silence', async () => {
  const out = outDir('no-speech');
  const run = await runMoxingInProcess(['transcribe', CLIP, '-m', MODEL, '-o', out, '-f', 'json', '--no-speech-threshold', '0', '--temperature-increment-on-fallback', '0'], offline);
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(readFileSync(join(out, 'en_000.json'), 'utf8'));
  // The random model's avg_logprob (about -9.8) is below --logprob-threshold, so openai's rule skips every window.
  assert.ok(ORACLE.segments.every((s: { avg_logprob: number }) => s.avg_logprob < -1));
  assert.deepEqual(json.segments, []);
  assert.equal(json.text, '');
});

test('fallbackTemperatures: openai\'s arange from --temperature up to 1 in whole steps; a start above 1 decodes once', () => {
  assert.deepEqual(fallbackTemperatures(0, 0.2), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(fallbackTemperatures(0.3, 0.3), [0.3, 0.6, 0.9]);
  assert.deepEqual(fallbackTemperatures(0.5, 0), [0.5]);
  assert.deepEqual(fallbackTemperatures(1.5, 0.2), [1.5]);
});

test('several files with verbose output: each file\'s segments under a header naming it', async () => {
  const second = join(dir, 'second.wav');
  copyFileSync(CLIP, second);
  const run = await runMoxingInProcess(['transcribe', CLIP, second, '-m', MODEL, '-o', outDir('headers'), '-f', 'txt', '--temperature-increment-on-fallback', '0'], offline);
  assert.equal(run.code, 0, run.stderr);
  const headers = run.stdout.split('\n').filter((l) => l.startsWith('==> '));
  assert.deepEqual(headers, [`==> ${CLIP} <==`, `==> ${second} <==`]);
  const [first, rest] = run.stdout.split(headers[1]);
  assert.match(first, /^==> .*\n\[\d\d:\d\d\.\d{3} --> /, 'the first file\'s segments follow its header');
  assert.match(rest, /^\n\[\d\d:\d\d\.\d{3} --> /, 'and the second file\'s follow its own');
});

test('transcribe - - is refused: standard input can be read once (its real process: transcribe-stdin.slow.test.ts)', async () => {
  const args = ['-m', MODEL, '-o', outDir('stdin-twice'), '-f', 'txt', '--no-verbose'];
  assertOneLineError(await runMoxingInProcess(['transcribe', '-', '-', ...args], offline), /standard input \(-\) can be read once/, 2);
});

test('--suppress-tokens outside the vocabulary is refused in one line, before any output', async () => {
  for (const [ids, exit] of [['99999999999', 2], ['-2', 2], ['12,x', 2], ['51865', 2]] as const) {
    const out = outDir(`suppress-${ids.replace(/\W/g, '_')}`);
    const run = await runMoxingInProcess(['transcribe', CLIP, '-m', MODEL, '-o', out, '--no-verbose', '--suppress-tokens', ids], offline);
    // Syntax and range at parse time; the model's vocabulary (0..51864 here) once it is loaded.
    assertOneLineError(run, /uppress.?[tT]okens: .*is not a token id/, exit);
    assert.ok(!existsSync(out) || readdirSync(out).length === 0);
  }
});

test('two inputs whose outputs share a name are refused before any work: no transcript replaces another', async () => {
  const other = join(dir, 'elsewhere');
  mkdirSync(other, { recursive: true });
  copyFileSync(CLIP, join(other, 'en_000.flac'));
  const out = outDir('collide');
  const run = await runMoxingInProcess(['transcribe', CLIP, join(other, 'en_000.flac'), '-m', MODEL, '-o', out], offline);
  assertOneLineError(run, /en_000\.wav and .*en_000\.flac would both be written as en_000\.\*/, 2);
  assert.equal(existsSync(out), false);
});

test('an output name that is a folder: nothing of that input is written, not even its other formats', async () => {
  const out = outDir('folder-target');
  mkdirSync(join(out, 'en_000.srt'), { recursive: true });
  const run = await runMoxingInProcess(['transcribe', CLIP, '-m', MODEL, '-o', out, '--no-verbose', '--temperature-increment-on-fallback', '0'], offline);
  assertOneLineError(run, /cannot write .*en_000\.srt: it is a folder; nothing was written/, 1);
  assert.deepEqual(readdirSync(out), ['en_000.srt'], 'no txt, vtt, tsv or json, and no temporary file');
});
