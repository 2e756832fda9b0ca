/**
 * Segment.tokenLogprobs: the decoder's own log-prob of each sampled token, the very terms openai sums into
 * avg_logprob. Every window's decode is recorded through the windowDecoder hook, so each segment can be checked
 * against the decode it came from, and the decode against openai's formula:
 * avg_logprob = sum_logprob / (len(tokens) + 1), sum_logprob accumulated in float32 over the sampled tokens and
 * the EOT that ended the decode.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { decodeAudio } from '../../../src/audio/index.js';
import { decodeWithFallback, transcribe, WhisperModel, type BatchedOptions, type TranscribeOptions } from '../../../src/asr/whisper/index.js';
import type { DecodingResult } from '../../../src/asr/whisper/decode.js';
import type { WindowDecoder } from '../../../src/asr/whisper/window-decode.js';
import type { TranscriptionResult } from '../../../src/asr/types.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../../models/index.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
const LONG_CLIP = join(SHARED, 'audio/dev/long/en_long_00.wav');
const SINGLE = join(SHARED, 'audio/dev/single/es_003.wav');

/** openai's avg_logprob from the token log-probs: a float32 running sum, over the token count plus one. */
function openaiAvgLogprob(result: DecodingResult): number {
  let sum = 0;
  for (const logprob of [...result.tokenLogprobs, result.eotLogprob]) sum = Math.fround(sum + logprob);
  return sum / (result.tokens.length + 1);
}

/** Transcribes with every window's decodes recorded, in order. */
async function recorded(input: string | Float32Array, options: TranscribeOptions & BatchedOptions): Promise<{ result: TranscriptionResult; decodes: DecodingResult[] }> {
  const decodes: DecodingResult[] = [];
  const windowDecoder: WindowDecoder = {
    async decode(...args) {
      const results = await decodeWithFallback(...args);
      decodes.push(...results);
      return results;
    },
  };
  return { result: await transcribe(input, { ...options, windowDecoder }), decodes };
}

describe('token log-probs', () => {
  let model: WhisperModel;
  /** The first 40 s of a long clip: two windows in sequence, and a few VAD windows. */
  let long: Float32Array;
  before(async () => {
    model = await WhisperModel.load(MODEL);
    long = (await decodeAudio(LONG_CLIP)).subarray(0, 40 * 16000);
  });

  test('greedy, sequential: each window\'s segments carry its decode\'s log-probs, which make up its avg_logprob exactly', async () => {
    const { result, decodes } = await recorded(long, { model, temperature: 0, tokenLogprobs: true });
    const windows = [...new Set(result.segments.map((s) => s.seek))];
    assert.ok(windows.length >= 2, 'the long clip spans several windows');
    // Windows judged silent give no segment: the decodes that gave segments, in order, are matched by avg_logprob.
    let at = 0;
    for (const seek of windows) {
      const segments = result.segments.filter((s) => s.seek === seek && s.tokens.length > 0);
      while (decodes[at].avgLogprob !== segments[0].avgLogprob) at++;
      const decode = decodes[at++];
      assert.equal(decode.tokenLogprobs.length, decode.tokens.length);
      assert.ok(decode.tokenLogprobs.every((l) => l <= 0) && decode.eotLogprob <= 0, 'log-probs of a greedy decode are <= 0');
      assert.equal(openaiAvgLogprob(decode), decode.avgLogprob, 'openai\'s formula, exactly');
      // The segments are consecutive slices of the window's tokens, from its first; so are their log-probs.
      const tokens = segments.flatMap((s) => s.tokens);
      assert.deepEqual(tokens, decode.tokens.slice(0, tokens.length));
      assert.deepEqual(segments.flatMap((s) => s.tokenLogprobs!), decode.tokenLogprobs.slice(0, tokens.length));
      for (const s of segments) assert.equal(s.avgLogprob, decode.avgLogprob);
    }
  });

  test('beam search keeps each beam\'s own log-probs: the chosen candidate\'s add up to its avg_logprob', async () => {
    const { result, decodes } = await recorded(SINGLE, { model, temperature: 0, beamSize: 3, tokenLogprobs: true });
    assert.ok(decodes.length > 0 && result.segments.length > 0);
    for (const decode of decodes) {
      assert.equal(decode.tokenLogprobs.length, decode.tokens.length);
      assert.equal(openaiAvgLogprob(decode), decode.avgLogprob);
    }
    const decode = decodes.at(-1)!;
    assert.deepEqual(result.segments.flatMap((s) => s.tokenLogprobs!), decode.tokenLogprobs.slice(0, result.segments.flatMap((s) => s.tokens).length));
  });

  test('asked for only: the result is unchanged without it, and with it but for the new field', async () => {
    const plain = await transcribe(SINGLE, { model, temperature: 0 });
    const withLogprobs = await transcribe(SINGLE, { model, temperature: 0, tokenLogprobs: true });
    assert.ok(plain.segments.every((s) => !('tokenLogprobs' in s)));
    assert.deepEqual(withLogprobs.segments.map(({ tokenLogprobs, ...rest }) => (assert.equal(tokenLogprobs!.length, rest.tokens.length), rest)), plain.segments);
  });

  test('the batched pipeline gives each window\'s text tokens their log-probs too', async () => {
    const { result, decodes } = await recorded(long, { model, temperature: 0, vad: true, tokenLogprobs: true });
    assert.ok(result.segments.length > 0);
    const eot = model.tokenizer.eot;
    for (const s of result.segments) {
      // A window's segment is its decode's text: special tokens it sampled (a language tag) are left out, with their log-probs.
      const decode = decodes.find((d) => d.avgLogprob === s.avgLogprob && d.tokens.filter((t) => t < eot).join() === s.tokens.join())!;
      assert.ok(decode, 'every segment is one window\'s decode');
      assert.deepEqual(s.tokenLogprobs, decode.tokenLogprobs.filter((_, i) => decode.tokens[i] < eot));
      assert.equal(openaiAvgLogprob(decode), s.avgLogprob);
    }
  });
});
