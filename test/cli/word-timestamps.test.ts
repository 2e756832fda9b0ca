/**
 * `moxing transcribe` word-level flags end to end: --word-timestamps (openai's words on a dev word clip), the
 * highlighted and laid-out srt/vtt, --align (WhisperX forced alignment with the generated wav2vec2), a CTC
 * model as --model, and the error paths of the word flags.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertOneLineError } from '../helpers/cli.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { parseSrt, parseVtt, writeTranscript } from '../../src/formats/index.js';
import type { Segment, TranscriptionResult } from '../../src/asr/index.js';
import { decodeAudio } from '../../src/audio/index.js';
import { ensureWav2Vec2Model } from '../models/wav2vec2.js';
import { checkWordOptions, parseAlignmentHeads, type WordCliOptions } from '../../src/cli/transcribe-words.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');
const CLIP = join(SHARED, 'audio/dev/words/en_words_03.wav');
const ORACLE = JSON.parse(readFileSync(join(MODEL, 'oracle-dev/words/en_words_03.json'), 'utf8'));
const dir = mkdtempSync(join(tmpdir(), 'moxing-words-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const offline = { MOXING_OFFLINE: '1', MOXING_CACHE: join(dir, 'cache') };
// The oracle's settings: T=0 without fallback, openai's default alignment heads (it had no table for these weights).
const ORACLE_FLAGS = ['--temperature-increment-on-fallback', '0', '--alignment-heads', 'default'];

type OracleSegment = { id: number; seek: number; start: number; end: number; text: string; tokens: number[]; words: Segment['words'] };

/** openai's result as moxing's result type, for writing it with the same writer options. */
function oracleResult(): TranscriptionResult {
  const segments = (ORACLE.segments as OracleSegment[]).map((s) => ({
    id: s.id, seek: s.seek, start: s.start, end: s.end, text: s.text, tokens: s.tokens, words: s.words,
    temperature: 0, avgLogprob: 0, compressionRatio: 0, noSpeechProb: 0,
  }));
  return { text: ORACLE.text, language: ORACLE.language, segments };
}

test('--word-timestamps gives openai\'s words; --highlight-words and the line options shape srt/vtt as the writers do', async () => {
  const out = join(dir, 'words');
  const layout = ['--highlight-words', '--max-line-width', '16', '--max-line-count', '2'];
  const run = await runMoxingInProcess(['transcribe', CLIP, '-m', MODEL, '-o', out, '--word-timestamps', ...ORACLE_FLAGS, ...layout], offline);
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(readFileSync(join(out, 'en_words_03.json'), 'utf8'));
  assert.equal(json.segments.length, ORACLE.segments.length);
  json.segments.forEach((s: OracleSegment, i: number) => {
    const want = ORACLE.segments[i] as OracleSegment;
    assert.deepEqual(s.words?.map((w) => [w.word, w.start, w.end]), want.words?.map((w) => [w.word, w.start, w.end]), `segment ${i}`);
  });
  // The same words through the formats module with the same options give the same files.
  const expected = join(dir, 'expected');
  await writeTranscript(oracleResult(), { audioPath: CLIP, outputDir: expected, formats: ['srt', 'vtt'], highlightWords: true, maxLineWidth: 16, maxLineCount: 2 });
  for (const ext of ['srt', 'vtt']) {
    assert.equal(readFileSync(join(out, `en_words_03.${ext}`), 'utf8'), readFileSync(join(expected, `en_words_03.${ext}`), 'utf8'), ext);
  }
  const cues = parseSrt(readFileSync(join(out, 'en_words_03.srt'), 'utf8'));
  assert.ok(cues.length >= 8, `${cues.length} cues`);
  for (const cue of cues) {
    assert.equal(cue.text.match(/<u>/g)?.length, 1, `one highlighted word per cue: ${cue.text}`);
    const lines = cue.text.replace(/<\/?u>/g, '').split('\n');
    assert.ok(lines.length <= 2 && lines.every((l) => l.length <= 16 || !l.includes(' ')), `layout of ${JSON.stringify(cue.text)}`);
  }
  assert.equal(parseVtt(readFileSync(join(out, 'en_words_03.vtt'), 'utf8')).length, cues.length);
});

test('--align replaces the words with forced-aligned ones (generated wav2vec2, espeak-ng clip)', async () => {
  const wav = join(dir, 'fox.wav');
  const made = spawnSync('espeak-ng', ['-w', wav, 'the quick brown fox jumps over the lazy dog']);
  assert.equal(made.status, 0, `espeak-ng failed: ${made.stderr}`);
  const duration = (await decodeAudio(wav)).length / 16000;
  const out = join(dir, 'aligned');
  const run = await runMoxingInProcess(['transcribe', wav, '-m', MODEL, '-o', out, '-f', 'json', '--align', '--align-model', ensureWav2Vec2Model(), '--temperature-increment-on-fallback', '0'], offline);
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(readFileSync(join(out, 'fox.json'), 'utf8'));
  const spoken = json.segments.filter((s: Segment) => s.text.trim() !== '');
  assert.ok(spoken.length > 0);
  let last = 0;
  for (const s of spoken as Segment[]) {
    const words = s.words ?? [];
    assert.deepEqual(words.map((w) => w.word.trim()), s.text.trim().split(/\s+/), 'every word of the text is aligned, none dropped');
    for (const w of words) {
      assert.ok(w.start >= last - 1e-9 && w.end >= w.start, `monotonic: ${JSON.stringify(w)}`);
      // Whisper's (random) segments may run past the audio: their words are spread over the span, never dropped.
      if (s.start < duration && s.end <= duration) assert.ok(w.end <= duration + 1e-9);
      last = w.start;
    }
  }
});

test('a CTC model as --model routes to CTC recognition, with the same writers and layout options', async () => {
  const out = join(dir, 'ctc');
  const run = await runMoxingInProcess(['transcribe', CLIP, '-m', ensureWav2Vec2Model(), '-o', out, '--max-words-per-line', '1'], offline);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['en_words_03.json', 'en_words_03.srt', 'en_words_03.tsv', 'en_words_03.txt', 'en_words_03.vtt']);
  const json = JSON.parse(readFileSync(join(out, 'en_words_03.json'), 'utf8'));
  const words = json.segments.flatMap((s: Segment) => s.words ?? []);
  assert.ok(words.length > 0, 'the random CTC model emits some letters');
  const cues = parseSrt(readFileSync(join(out, 'en_words_03.srt'), 'utf8'));
  assert.equal(cues.length, words.length, 'one word per cue with --max-words-per-line 1');
  cues.forEach((cue, i) => assert.equal(cue.text, words[i].word.trim()));
});

test('word flag rules (openai\'s CLI): what requires what', () => {
  const base: WordCliOptions = { model: MODEL, variant: 'fp32', outputDir: '.', outputFormat: ['txt'], device: 'cpu', verbose: false };
  const cases: [Partial<WordCliOptions>, RegExp][] = [
    [{ highlightWords: true }, /--highlight-words requires --word-timestamps/],
    [{ maxLineWidth: 30 }, /--max-line-width requires --word-timestamps/],
    [{ maxWordsPerLine: 3 }, /--max-words-per-line requires --word-timestamps/],
    [{ wordTimestamps: true, maxLineCount: 2 }, /--max-line-count requires --max-line-width/],
    [{ prependPunctuations: '"' }, /--prepend-punctuations requires --word-timestamps/],
    [{ align: true, appendPunctuations: '.' }, /--append-punctuations requires --word-timestamps/],
    [{ hallucinationSilenceThreshold: 2 }, /--hallucination-silence-threshold requires --word-timestamps/],
    [{ alignmentHeads: 'default' }, /--alignment-heads requires --word-timestamps/],
    [{ alignModel: 'wav2vec2-base-960h' }, /--align-model requires --align/],
  ];
  for (const [options, pattern] of cases) assert.throws(() => checkWordOptions({ ...base, ...options }, false), pattern, JSON.stringify(options));
  // Words from --align or from a CTC model are enough for the layout flags.
  checkWordOptions({ ...base, align: true, highlightWords: true, maxLineWidth: 20, maxLineCount: 2 }, false);
  checkWordOptions({ ...base, maxWordsPerLine: 2 }, true);
  assert.deepEqual(parseAlignmentHeads('1:0, 2:1'), [[1, 0], [2, 1]]);
  assert.equal(parseAlignmentHeads('default'), 'default');
  assert.throws(() => parseAlignmentHeads('1-0'), /--alignment-heads.*"1-0"/);
});

test('word flag errors: one line, non-zero exit, no output file', async () => {
  // A Whisper folder without the timestamped decoder.
  const plain = join(dir, 'plain-whisper');
  mkdirSync(join(plain, 'onnx'), { recursive: true });
  for (const f of readdirSync(MODEL)) if (f.endsWith('.json') || f.endsWith('.txt')) copyFileSync(join(MODEL, f), join(plain, f));
  for (const f of ['encoder_model.onnx', 'decoder_model_merged.onnx']) symlinkSync(join(MODEL, 'onnx', f), join(plain, 'onnx', f));
  const ctc = ensureWav2Vec2Model();
  const cases: { name: string; args: string[]; pattern: RegExp }[] = [
    { name: 'max-line-count without width', args: ['--word-timestamps', '--max-line-count', '2'], pattern: /--max-line-count requires --max-line-width/ },
    { name: 'alignment head outside the decoder', args: ['--word-timestamps', '--alignment-heads', '7:0'], pattern: /alignment head \[7,0\].*3 layers/ },
    { name: 'no timestamped export', args: ['--word-timestamps', '--model', plain], pattern: /decoder_model_merged_timestamped\.onnx.*word timestamps/ },
    { name: 'whisper flags with a CTC model', args: ['--model', ctc, '--beam-size', '2', '--word-timestamps'], pattern: /CTC \(wav2vec2\) model: --beam-size, --word-timestamps apply to Whisper models only/ },
    { name: 'no ONNX aligner for the given language, before transcribing', args: ['--align', '--language', 'German'], pattern: /default aligner for "de" is facebook\/wav2vec2-base-10k-voxpopuli-ft-de.*--align-model DIR/ },
    { name: 'no ONNX aligner for the detected language', args: ['--align', '--temperature-increment-on-fallback', '0'], pattern: /default aligner for "ur" is .*no known ONNX export.*--align-model/ },
  ];
  // In turn: the in-process capture of stdout and stderr is process-wide.
  const runs = [];
  for (const [i, c] of cases.entries()) {
    const args = ['transcribe', CLIP, ...c.args, '--no-verbose', '-o', join(dir, `error-${i}`)];
    if (!c.args.includes('--model')) args.push('--model', MODEL);
    runs.push(await runMoxingInProcess(args, offline));
  }
  runs.forEach((run, i) => {
    assertOneLineError(run, cases[i].pattern);
    const out = join(dir, `error-${i}`);
    assert.ok(!existsSync(out) || readdirSync(out).length === 0, `${cases[i].name}: no output file`);
  });
});
