/** readTranscript / parseTranscript: the known text `align` takes, from plain text, subtitles or json. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTranscript } from '../../src/formats/index.js';
import { isMoxingError } from '../../src/errors.js';

test('srt, vtt and json give timed segments; other files are plain text', () => {
  const srt = '1\n00:00:01,000 --> 00:00:02,500\nhello\nthere\n\n2\n00:00:03,000 --> 00:00:04,000\nagain\n';
  assert.deepEqual(parseTranscript(srt, 'a.SRT'), [{ text: 'hello there', start: 1, end: 2.5 }, { text: 'again', start: 3, end: 4 }]);
  const vtt = 'WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n';
  assert.deepEqual(parseTranscript(vtt, 'a.vtt'), [{ text: 'hi', start: 1, end: 2 }]);
  const json = JSON.stringify({ text: 'x', segments: [{ id: 0, text: ' x', start: 0, end: 1.5, tokens: [] }] });
  assert.deepEqual(parseTranscript(json, 'r.json'), [{ text: ' x', start: 0, end: 1.5 }]);
  assert.equal(parseTranscript('just words\nmore', 'notes.txt'), 'just words\nmore');
});

test('empty, broken or shapeless transcripts are clear errors that never quote the content', () => {
  assert.throws(() => parseTranscript('  \n', 'a.txt'), (e) => isMoxingError(e, 'FILE_EMPTY'));
  assert.throws(() => parseTranscript('{"secret": tru', 'b.json'), (e) => isMoxingError(e, 'BAD_ARGUMENT') && !/secret/.test(e.message));
  assert.throws(() => parseTranscript('{"segments": [{"text": 1}]}', 'c.json'), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /segments/.test(e.message));
  assert.throws(() => parseTranscript('null', 'd.json'), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
});
