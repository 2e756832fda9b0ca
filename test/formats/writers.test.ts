import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Segment, TranscriptionResult, Word } from '../../src/asr/types.js';
import { OUTPUT_FORMATS, formatSegmentLine, renderTranscript, resolveOutputFormats, type SubtitleOptions } from '../../src/formats/index.js';
import { isMoxingError } from '../../src/errors.js';

/** Outputs of openai/whisper's own writers (utils.py) on one result, generated with Python. */
interface Reference {
  input: { text: string; language: string; segments: OpenAiSegment[] };
  options: Record<string, unknown>[];
  expected: Record<string, string>;
}
interface OpenAiSegment {
  id: number; seek: number; start: number; end: number; text: string; tokens: number[]; temperature: number;
  avg_logprob: number; compression_ratio: number; no_speech_prob: number; words: Word[];
}

const reference = JSON.parse(readFileSync(new URL('./fixtures/openai-writers-reference.json', import.meta.url), 'utf8')) as Reference;

function toResult(withWords: boolean): TranscriptionResult {
  const segments: Segment[] = reference.input.segments.map((s) => ({
    id: s.id, seek: s.seek, start: s.start, end: s.end, text: s.text, tokens: s.tokens, temperature: s.temperature,
    avgLogprob: s.avg_logprob, compressionRatio: s.compression_ratio, noSpeechProb: s.no_speech_prob,
    ...(withWords ? { words: s.words } : {}),
  }));
  return { text: reference.input.text, segments, language: reference.input.language, duration: 3730 };
}

test('each format equals openai/whisper writers byte for byte (segment level)', () => {
  const result = toResult(false);
  for (const format of OUTPUT_FORMATS) assert.equal(renderTranscript(result, format), reference.expected[format], format);
});

test('each format equals openai/whisper writers with word timestamps', () => {
  const result = toResult(true);
  for (const format of OUTPUT_FORMATS) assert.equal(renderTranscript(result, format), reference.expected[`${format}_words`], format);
});

test('word-level subtitle options (width, line count, words per line, highlight) equal openai', () => {
  const result = toResult(true);
  reference.options.forEach((o, i) => {
    const options: Partial<SubtitleOptions> = {
      highlightWords: o.highlight_words === true,
      maxLineWidth: o.max_line_width as number | undefined,
      maxLineCount: o.max_line_count as number | undefined,
      maxWordsPerLine: o.max_words_per_line as number | undefined,
    };
    assert.equal(renderTranscript(result, 'srt', options), reference.expected[`srt_opt${i}`], `srt ${JSON.stringify(o)}`);
    assert.equal(renderTranscript(result, 'vtt', options), reference.expected[`vtt_opt${i}`], `vtt ${JSON.stringify(o)}`);
  });
});

test('hand-checked srt/vtt/tsv details: hours, comma, index from 1, arrow replaced, tabs in tsv', () => {
  const result: TranscriptionResult = {
    text: ' a --> b',
    language: 'en',
    segments: [
      { id: 0, seek: 0, start: 0, end: 1.0005, text: '  a --> b ', tokens: [], temperature: 0, avgLogprob: 0, compressionRatio: 1, noSpeechProb: 0 },
      { id: 1, seek: 0, start: 3600, end: 3661.25, text: ' c\td', tokens: [], temperature: 0, avgLogprob: 0, compressionRatio: 1, noSpeechProb: 0 },
    ],
  };
  // 1.0005 * 1000 is exactly 1000.5 in binary: Python's round goes to the even 1000 where Math.round gives 1001.
  assert.equal(renderTranscript(result, 'srt'), '1\n00:00:00,000 --> 00:00:01,000\na -> b\n\n2\n01:00:00,000 --> 01:01:01,250\nc\td\n\n');
  assert.equal(renderTranscript(result, 'vtt'), 'WEBVTT\n\n00:00.000 --> 00:01.000\na -> b\n\n01:00:00.000 --> 01:01:01.250\nc\td\n\n');
  assert.equal(renderTranscript(result, 'tsv'), 'start\tend\ttext\n0\t1000\ta --> b\n3600000\t3661250\tc d\n');
  assert.equal(renderTranscript(result, 'txt'), 'a --> b\nc\td\n');
  const empty: TranscriptionResult = { text: '', language: 'en', segments: [] };
  assert.equal(renderTranscript(empty, 'srt'), '');
  assert.equal(renderTranscript(empty, 'vtt'), 'WEBVTT\n\n');
  assert.equal(renderTranscript(empty, 'json'), '{"text": "", "segments": [], "language": "en"}');
});

test('resolveOutputFormats expands all and rejects unknown names', () => {
  assert.deepEqual(resolveOutputFormats('all'), ['txt', 'vtt', 'srt', 'tsv', 'json']);
  assert.deepEqual(resolveOutputFormats(['srt', 'srt', 'json']), ['srt', 'json']);
  assert.throws(() => resolveOutputFormats('docx'), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /docx/.test(e.message));
  assert.throws(() => resolveOutputFormats([]), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
});

test('formatSegmentLine is openai verbose output: unstripped text, hours only when needed', () => {
  assert.equal(formatSegmentLine({ start: 0, end: 4.2, text: ' Hello.' }), '[00:00.000 --> 00:04.200]  Hello.');
  assert.equal(formatSegmentLine({ start: 3599.5, end: 3601, text: ' x' }), '[59:59.500 --> 01:00:01.000]  x');
});
