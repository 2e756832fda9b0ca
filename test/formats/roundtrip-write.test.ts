import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Segment, TranscriptionResult } from '../../src/asr/types.js';
import { pyRound } from '../../src/text/python.js';
import { outputBasename, parseSrt, parseVtt, renderSrt, renderTranscript, renderVtt, writeTranscript } from '../../src/formats/index.js';
import { isMoxingError } from '../../src/errors.js';

function segment(id: number, start: number, end: number, text: string): Segment {
  return { id, seek: 0, start, end, text, tokens: [], temperature: 0, avgLogprob: -0.1, compressionRatio: 1.2, noSpeechProb: 0.01 };
}

/** Times that exercise rounding, minutes and hours, and texts with arrows, inner spaces and non-ASCII. */
const RESULT: TranscriptionResult = {
  text: 'x',
  language: 'en',
  segments: [
    segment(0, 0, 1.02, ' First line.'),
    segment(1, 1.02, 59.9996, ' an --> arrow, ünï 你好 😀'),
    segment(2, 61.234, 3599.9994, '   spaced   out  '),
    segment(3, 3600.5, 7322.78, ' Past one hour.'),
    segment(4, 7322.78, 7323, ''),
  ],
};

test('srt and vtt round trip: parse(write(result)) gives the times (ms) and stripped texts', () => {
  for (const [name, parsed] of [['srt', parseSrt(renderSrt(RESULT))], ['vtt', parseVtt(renderVtt(RESULT))]] as const) {
    assert.equal(parsed.length, RESULT.segments.length, name);
    RESULT.segments.forEach((s, i) => {
      assert.equal(parsed[i].start, pyRound(s.start * 1000) / 1000, `${name} start ${i}`);
      assert.equal(parsed[i].end, pyRound(s.end * 1000) / 1000, `${name} end ${i}`);
      assert.equal(parsed[i].text, s.text.trim().replaceAll('-->', '->'), `${name} text ${i}`);
    });
  }
});

test('parsers accept CRLF, a BOM, cue settings and notes, and name the bad line', () => {
  const vtt = '\ufeffWEBVTT - title\r\n\r\nNOTE a comment\r\n\r\nid-1\r\n00:01.000 --> 00:02.500 align:start\r\ntwo\r\nlines\r\n';
  assert.deepEqual(parseVtt(vtt), [{ start: 1, end: 2.5, text: 'two\nlines' }]);
  assert.throws(() => parseVtt('1\n00:00:00,000 --> 00:00:01,000\nx\n'), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /WEBVTT/.test(e.message));
  assert.throws(() => parseSrt('1\n00:00:00,000 --> soon\nx\n'), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /line 2/.test(e.message));
});

test('outputBasename drops the folder and the last extension, as os.path.splitext', () => {
  assert.equal(outputBasename('/a/b/talk.final.mp3'), 'talk.final');
  assert.equal(outputBasename('clip'), 'clip');
  assert.equal(outputBasename('/x/.hidden'), '.hidden');
});

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moxing-formats-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('writeTranscript writes every format atomically, replaces old files and leaves no temp file', withDir(async (dir) => {
  const out = join(dir, 'nested', 'out');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'talk.srt'), 'stale content that must go');
  const paths = await writeTranscript(RESULT, { audioPath: '/somewhere/talk.wav', outputDir: out, formats: 'all' });
  assert.deepEqual(paths, ['txt', 'vtt', 'srt', 'tsv', 'json'].map((ext) => join(out, `talk.${ext}`)));
  assert.deepEqual(readdirSync(out).sort(), ['talk.json', 'talk.srt', 'talk.tsv', 'talk.txt', 'talk.vtt']);
  for (const ext of ['txt', 'vtt', 'srt', 'tsv', 'json'] as const) {
    assert.equal(readFileSync(join(out, `talk.${ext}`), 'utf8'), renderTranscript(RESULT, ext));
  }
  // A missing output folder is created.
  const fresh = join(dir, 'fresh');
  assert.deepEqual(await writeTranscript(RESULT, { audioPath: 'a.b.flac', outputDir: fresh, formats: ['srt'] }), [join(fresh, 'a.b.srt')]);
}));

test('a failing rename leaves no temp file and reports the folder', withDir(async (dir) => {
  mkdirSync(join(dir, 'talk.srt')); // a folder where the srt must go: its rename fails
  await assert.rejects(
    writeTranscript(RESULT, { audioPath: 'talk.wav', outputDir: dir, formats: ['srt', 'json'] }),
    (e) => isMoxingError(e, 'OUTPUT_FAILED') && e.message.includes(dir),
  );
  assert.deepEqual(readdirSync(dir), ['talk.srt']);
  // An output folder that cannot be created (a file stands in its path) is OUTPUT_FAILED too, not a raw error.
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(
    writeTranscript(RESULT, { audioPath: 'talk.wav', outputDir: join(dir, 'file', 'sub'), formats: ['txt'] }),
    (e) => isMoxingError(e, 'OUTPUT_FAILED') && e.message.includes(join(dir, 'file', 'sub')),
  );
}));

test('a result that cannot be rendered writes nothing at all', withDir(async (dir) => {
  const bad: TranscriptionResult = { ...RESULT, segments: [segment(0, -1, 1, ' negative start')] };
  await assert.rejects(writeTranscript(bad, { audioPath: 'talk.wav', outputDir: dir, formats: 'all' }), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
  assert.deepEqual(readdirSync(dir), []);
}));
