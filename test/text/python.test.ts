// The Python-compatibility helpers against CPython itself: every expected value below was printed by
// python3 (CPython 3) running round(x) / round(x, n) on the same double.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastItems, pyLen, pyRound } from '../../src/text/python.js';

test('pyRound(x) is CPython round(x): ties to even on the exact double, no negative zero', () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, 0],
    [-1.5, -2],
    [-2.5, -2],
    [0.49999999999999994, 0],
    [1e16 + 1, 10000000000000000],
    [1.0000000000000002, 1],
    [4503599627370495.5, 4503599627370496],
    [2 ** 53 + 2, 9007199254740994],
    [1e300, 1e300],
    [5e-324, 0],
    [-0.0, 0],
    [-0.3, 0],
  ];
  for (const [x, expected] of cases) assert.ok(Object.is(pyRound(x), expected), `round(${x}) = ${expected}, got ${pyRound(x)}`);
});

test('pyRound(x, n) is CPython round(x, n): the exact binary value decides, exact ties go to even', () => {
  const cases: [number, number, number][] = [
    [2.675, 2, 2.67], // the double lies below the tie
    [0.125, 2, 0.12], // a true tie
    [0.375, 2, 0.38],
    [1.005, 2, 1.0],
    [0.1 + 0.2, 2, 0.3],
    [1.92, 2, 1.92],
    [123.456, 1, 123.5],
    [2.5, 0, 2.0],
    [-2.5, 0, -2.0],
    [1.0000000000000002, 15, 1.0],
    [0.5e-10, 10, 1e-10],
    [1e300, 2, 1e300],
    [1e22, 2, 1e22],
    [1.7976931348623157e308, 3, 1.7976931348623157e308],
    [5e-324, 2, 0],
    [-0.0, 2, -0.0],
    [-0.001, 2, -0.0],
  ];
  for (const [x, n, expected] of cases) assert.ok(Object.is(pyRound(x, n), expected), `round(${x}, ${n}) = ${expected}, got ${pyRound(x, n)}`);
  assert.ok(Number.isNaN(pyRound(NaN, 2)));
  assert.equal(pyRound(Infinity, 2), Infinity);
  assert.throws(() => pyRound(1.5, -1), RangeError);
});

test('lastItems is items[-n:], pyLen counts code points', () => {
  assert.deepEqual(lastItems([1, 2, 3], 2), [2, 3]);
  assert.deepEqual(lastItems([1, 2, 3], 0), [1, 2, 3]);
  assert.deepEqual(lastItems([1, 2, 3], -1), [2, 3]);
  assert.equal(pyLen('a😀b'), 3);
});
