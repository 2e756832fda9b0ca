import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { compressionRatio } from '../../src/text/index.js';
import { zlibCompressedLength } from '../../src/text/zlib-size.js';

/** Texts with the size CPython's zlib.compress (stock zlib, level 6) gives them. */
const reference = JSON.parse(readFileSync(new URL('./fixtures/zlib-reference.json', import.meta.url), 'utf8')) as {
  items: { text: string; zlib_bytes: number }[];
};
const UTF8 = new TextEncoder();

test('compressed sizes equal CPython zlib.compress on every reference text (Node zlib differs on most)', () => {
  let nodeDiffers = 0;
  for (const { text, zlib_bytes } of reference.items) {
    const bytes = UTF8.encode(text);
    assert.equal(zlibCompressedLength(bytes), zlib_bytes, JSON.stringify(text.slice(0, 40)));
    assert.equal(compressionRatio(text), bytes.length / zlib_bytes);
    if (deflateSync(bytes).length !== zlib_bytes) nodeDiffers++;
  }
  // Why the port exists: Chromium's zlib in Node never emits 3-byte matches.
  assert.ok(nodeDiffers > reference.items.length / 4, `node zlib differs on ${nodeDiffers}`);
});

test('compressionRatio on values that can be reasoned out', () => {
  // zlib output = 2-byte header + deflate stream + 4-byte adler32.
  assert.equal(compressionRatio(''), 0); // 8 bytes: header, empty fixed block (10 bits), checksum
  assert.equal(compressionRatio('a'), 1 / 9); // one 8-bit literal + end of block in a fixed block: 3 bytes
  assert.equal(compressionRatio('é'), 2 / 10); // UTF-8 bytes, not characters
  assert.equal(compressionRatio('a'.repeat(1000)), 1000 / 17);
});

test('a looping decode crosses the 2.4 fallback threshold, ordinary speech does not', () => {
  assert.ok(compressionRatio(' And so my fellow Americans, ask not what your country can do for you.') < 2.4);
  assert.ok(compressionRatio(' copyright'.repeat(40).trim()) > 2.4);
});

test('text beyond one deflate block falls back to a real compressor', () => {
  const long = 'word '.repeat(4000);
  assert.equal(zlibCompressedLength(UTF8.encode(long)), undefined);
  const ratio = compressionRatio(long);
  assert.ok(ratio > 50 && Number.isFinite(ratio));
});
