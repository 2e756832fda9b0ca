/** The one pyRound, against CPython's round() on edge cases (expected values printed by CPython 3). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastItems, pyLen, pyRound, pyStrip } from '../../src/text/python.js';

test('pyRound(x) equals CPython round(x): ties to even, on the exact binary value', () => {
  const xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 2.675 * 100, 1e16 + 1, 1234567.5, -1234568.5, 4503599627370495.5, 0.1 + 0.2, 1e-300, -7.5, 7.4999999999, 2 ** 53];
  // python3 -c "print([round(x) for x in xs])"
  const cpython = [0, 2, 2, 0, -2, -2, 0, 268, 10000000000000000, 1234568, -1234568, 4503599627370496, 0, 0, -8, 7, 9007199254740992];
  assert.deepEqual(xs.map((x) => pyRound(x) + 0), cpython);
});

test('pyRound(x, digits) equals CPython round(x, digits)', () => {
  const xs = [0.125, 0.375, 2.675, 0.1 + 0.2, 1.005, -2.675, 1e-5, 123456.785, 0.5, -0.0];
  // python3 -c "print([round(x, 2) for x in xs])"
  const cpython = [0.12, 0.38, 2.67, 0.3, 1.0, -2.67, 0.0, 123456.79, 0.5, -0.0];
  assert.deepEqual(xs.map((x) => pyRound(x, 2)), cpython);
});

test('Python slices, lengths and strip', () => {
  assert.deepEqual(lastItems([1, 2, 3], 0), [1, 2, 3]);
  assert.deepEqual(lastItems([1, 2, 3], 2), [2, 3]);
  assert.equal(pyLen('a😀b'), 3);
  assert.equal(pyStrip('\u0085 x \u3000'), 'x');
});
