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
