import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTimestamp, renderOpenAiJson, toOpenAiResult } from '../../src/formats/index.js';
import { pyFloat, pyRound, pyString } from '../../src/text/python.js';
import { isMoxingError } from '../../src/errors.js';

test('pyRound rounds ties to even like Python round()', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.4999, 2.5001].map((x) => pyRound(x)), [0, 2, 2, 4, 0, -2, 2, 3]);
});

test('formatTimestamp follows openai format_timestamp', () => {
  assert.equal(formatTimestamp(0), '00:00.000');
  assert.equal(formatTimestamp(0, { alwaysIncludeHours: true, decimalMarker: ',' }), '00:00:00,000');
  assert.equal(formatTimestamp(59.9994), '00:59.999');
  assert.equal(formatTimestamp(59.9996), '01:00.000');
  assert.equal(formatTimestamp(3600), '01:00:00.000');
  assert.equal(formatTimestamp(36000 + 0.02), '10:00:00.020');
  assert.equal(formatTimestamp(0.0025), '00:00.002'); // 2.5 ms, a tie: to even
  assert.throws(() => formatTimestamp(-0.01), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
  assert.throws(() => formatTimestamp(Number.NaN), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
});

test('pyFloat prints Python repr(float)', () => {
  // Each pair: value, what Python's repr prints.
  const cases: [number, string][] = [
    [0, '0.0'], [-0, '-0.0'], [1, '1.0'], [2.5, '2.5'], [-0.25, '-0.25'], [1e-5, '1e-05'], [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'], [0.00012345, '0.00012345'], [123456789012345678, '1.2345678901234568e+17'], [1e16, '1e+16'],
    [1e15, '1000000000000000.0'], [9999999999999998, '9999999999999998.0'], [29.900000000000002, '29.900000000000002'],
    [2.153295645257458e-5, '2.153295645257458e-05'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'],
    [0.1 + 0.2, '0.30000000000000004'], [100, '100.0'], [Number.NaN, 'NaN'], [-Infinity, '-Infinity'],
  ];
  for (const [x, py] of cases) assert.equal(pyFloat(x), py, String(x));
});

test('pyString escapes like json.dumps with ensure_ascii', () => {
  assert.equal(pyString('a"b\\c\n\t\r\b\f\u0001\u007f é你😀'), '"a\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u007f \\u00e9\\u4f60\\ud83d\\ude00"');
});

test('json: camelCase result becomes openai snake_case in openai key order, words after no_speech_prob', () => {
  const result = {
    text: ' Hi', language: 'de', duration: 3, languageProbs: { de: 1 },
    segments: [{
      id: 0, seek: 0, start: 0, end: 1, text: ' Hi', tokens: [50364, 2421, 50414], temperature: 0, avgLogprob: -0.5,
      compressionRatio: 0.6, noSpeechProb: 0.25, words: [{ word: ' Hi', start: 0, end: 1, probability: 0.5 }],
    }],
  };
  const json = renderOpenAiJson(result);
  assert.equal(
    json,
    '{"text": " Hi", "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": " Hi", "tokens": [50364, 2421, 50414], ' +
      '"temperature": 0.0, "avg_logprob": -0.5, "compression_ratio": 0.6, "no_speech_prob": 0.25, ' +
      '"words": [{"word": " Hi", "start": 0.0, "end": 1.0, "probability": 0.5}]}], "language": "de"}',
  );
  assert.deepEqual(JSON.parse(json), toOpenAiResult(result));
  assert.deepEqual(Object.keys(toOpenAiResult(result)), ['text', 'segments', 'language']);
});
