/** OpenAI's logprobs entries of a transcript: each token gets the text it completes, and the texts add up to the transcript's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogprobTexts } from '../../src/server/logprobs.js';

const TIMESTAMP_BEGIN = 100;
// Token ids are indexes into these byte strings: 'é' split over two tokens, a lone lead byte, ASCII words.
const BYTES = [[0x20, 0x63, 0x61, 0x66], [0xc3], [0xa9], [0x20, 0x6f, 0x6b], [0xe4], [0x20, 0x6e, 0x6f]].map((b) => Uint8Array.from(b));
const tokenizer = { timestampBegin: TIMESTAMP_BEGIN, tokenBytes: (id: number) => BYTES[id] };
const texts = (ids: number[], segments = 1) => {
  const t = new LogprobTexts(tokenizer);
  const per = Math.ceil(ids.length / segments);
  const deltas = Array.from({ length: segments }, (_, k) => ids.slice(k * per, (k + 1) * per)).map((part) => t.addTokens(part, part.map((_, i) => -i)));
  return { deltas: deltas.map((d) => d.map((e) => e.token)), done: t.done().map((e) => e.token) };
};
const whole = (ids: number[]) => new TextDecoder().decode(Buffer.concat(ids.map((id) => BYTES[id])));

test('a character split over two tokens is the second token\'s text, also across segments', () => {
  assert.deepEqual(texts([0, 1, 2, 3]).deltas, [[' caf', '', 'é', ' ok']]);
  assert.deepEqual(texts([0, 1, 2, 3], 2).deltas, [[' caf', ''], ['é', ' ok']]);
  assert.equal(texts([0, 1, 2, 3]).done.join(''), whole([0, 1, 2, 3]).trim());
});

test('a byte that can never make a character is U+FFFD at once; the tokens after it keep their text', () => {
  const { deltas, done } = texts([0, 4, 5, 3]);
  assert.deepEqual(deltas, [[' caf', '', '\uFFFD no', ' ok']]);
  assert.equal(done.join(''), whole([0, 4, 5, 3]).trim());
});

test('bytes still unfinished at the end go to the last token, as the decoder\'s text has them', () => {
  const { done } = texts([0, 3, 1]);
  assert.deepEqual(done, ['caf', ' ok', '\uFFFD']);
  assert.equal(done.join(''), whole([0, 3, 1]).trim());
});

test('timestamp tokens are left out', () => {
  assert.deepEqual(texts([TIMESTAMP_BEGIN, 0, TIMESTAMP_BEGIN + 5]).deltas, [[' caf']]);
});
