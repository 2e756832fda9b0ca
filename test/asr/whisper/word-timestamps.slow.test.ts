/**
 * The word-timestamp options reaching transcribe()'s loop, on the timestamped fixture: the alignment heads move
 * the words, and openai's hallucination-silence rule drops improbable segments.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { transcribe } from '../../../src/asr/index.js';
import { decodeAudio } from '../../../src/audio/index.js';
import { releaseSessions } from '../../../src/runtime/index.js';
import { SHARED } from './fidelity.js';
import { checkWordInvariants, loadTimestampedFixture } from './words.js';

after(() => releaseSessions());

test('the options reach the loop: generation_config heads move the words; the hallucination rule drops improbable segments', async () => {
  const model = await loadTimestampedFixture();
  const audio = await decodeAudio(join(SHARED, 'audio/dev/words/en_words_00.wav'));
  // The first 3 s only, to stay fast.
  const options = { model, temperature: 0, wordTimestamps: true, clipTimestamps: '0,3' } as const;
  const config = await transcribe(audio, options);
  checkWordInvariants(config.segments, 'config heads');
  assert.ok(config.segments.some((s) => s.text !== ''));
  const times = (segments: readonly { words?: readonly { start: number; end: number }[] }[]): number[][] => segments.flatMap((s) => (s.words ?? []).map((w) => [w.start, w.end]));
  // The fixture's generation_config heads are not openai's default ones (which its oracle used), and they give other times.
  const upperHalf = await transcribe(audio, { ...options, alignmentHeads: 'default' });
  assert.notDeepEqual(times(config.segments), times(upperHalf.segments));
  // Every word of the random model is improbable (p < 0.15), so openai's rule takes each segment for a
  // hallucination in silence and skips it.
  assert.ok(config.segments.flatMap((s) => s.words ?? []).every((w) => w.probability < 0.15));
  const guarded = await transcribe(audio, { ...options, hallucinationSilenceThreshold: 0.5 });
  assert.deepEqual(guarded.segments.filter((s) => s.text !== ''), []);
});
