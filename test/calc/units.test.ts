import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMoxingError } from '../../src/errors.js';
import { formatBytes, formatCount, formatSeconds, parseBytes, parseCount } from '../../src/calc/units.js';

test('counts parse with suffixes, exponents and separators', () => {
  assert.equal(parseCount('1T'), 1e12);
  assert.equal(parseCount('300B'), 300e9);
  assert.equal(parseCount('2.5e12'), 2.5e12);
  assert.equal(parseCount('7b'), 7e9);
  assert.equal(parseCount('32k'), 32_000);
  assert.equal(parseCount('1,000,000'), 1e6);
  assert.equal(parseCount('1.5M'), 1.5e6);
  assert.equal(parseCount(' 42 '), 42);
});

test('bad counts are BAD_ARGUMENT naming the option and the value', () => {
  for (const text of ['-5', 'lots', '1X', '', '1e', 'NaN', 'Infinity', '1e999']) {
    assert.throws(() => parseCount(text, '--tokens'), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && (e as Error).message.includes('--tokens'), text);
  }
});

test('sizes parse in decimal and binary units', () => {
  assert.equal(parseBytes('80GB'), 80e9);
  assert.equal(parseBytes('24GiB'), 24 * 2 ** 30);
  assert.equal(parseBytes('512'), 512);
  assert.throws(() => parseBytes('80 apples'), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT'));
});

test('formatting round-trips through parsing at three digits', () => {
  assert.equal(formatCount(6_738_415_616), '6.74B');
  assert.equal(parseCount(formatCount(174.6e9)), 175e9);
  assert.equal(formatBytes(13_476_831_232), '13.5 GB');
  assert.equal(formatSeconds(0.0693), '69.3 ms');
  assert.equal(formatSeconds(3 * 86400), '3 days');
  assert.equal(formatSeconds(8e-6), '8 µs');
});

test('unit boundaries: the rounded mantissa never reaches the next unit', () => {
  const cases: [(v: number) => string, number, string][] = [
    [formatCount, 999, '999'],
    [formatCount, 999.6, '1k'],
    [formatCount, 999_499, '999k'],
    [formatCount, 999_500, '1M'],
    [formatCount, 999_999, '1M'],
    [formatCount, -999_999, '-1M'],
    [formatCount, 999_999_999_999, '1T'],
    [formatCount, 1_000_000, '1M'],
    [formatCount, 0, '0'],
    [formatCount, 0.5, '0.5'],
    [formatBytes, 999_999, '1 MB'],
    [formatBytes, 999_999_999, '1 GB'],
    [formatBytes, 999, '999 B'],
    [formatBytes, 0, '0 B'],
    [formatSeconds, 59.99, '1 min'],
    [formatSeconds, 59.9, '59.9 s'],
    [formatSeconds, 3599.9, '1 h'],
    [formatSeconds, 86_399, '1 days'],
    [formatSeconds, 0.9999, '1 s'],
    [formatSeconds, 0.0009999, '1 ms'],
    [formatSeconds, 86400 * 365 - 1, '1 years'],
    [formatSeconds, 0, '0 µs'],
  ];
  for (const [format, value, expected] of cases) assert.equal(format(value), expected, `${format.name}(${value})`);
  // Two digits move the boundary: 995 rounds to 1.0e3.
  assert.equal(formatCount(995, 2), '1k');
  assert.equal(formatCount(994, 2), '990');
});
