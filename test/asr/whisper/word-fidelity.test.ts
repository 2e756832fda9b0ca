/**
 * Fidelity of `wordTimestamps` to openai/whisper: moxing's transcribe() on the word clips of audio/dev/words/
 * with the shared tiny random Whisper (its timestamped decoder), against what openai's transcribe() returned
 * with `word_timestamps=True` (`oracle-dev/words/`). The oracle's settings: temperature 0 without fallback
 * (every segment has temperature 0.0), language detected, and openai's default alignment heads (it has no
 * table for these weights); the words themselves are nonsense but depend on the audio. Also checks what
 * holds for any output: words concatenate back to the segment text, times are monotonic and inside their
 * segment.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transcribe } from '../../../src/asr/index.js';
import { decodeAudio } from '../../../src/audio/index.js';
import { releaseSessions } from '../../../src/runtime/index.js';
import { FIXTURE_DIR, SHARED, clipsOf } from './fidelity.js';
import { checkWordInvariants, loadTimestampedFixture } from './words.js';

after(() => releaseSessions());

interface OracleWord { word: string; start: number; end: number; probability: number }
interface OracleSegment { start: number; end: number; text: string; words: OracleWord[] }

test('word timestamps match openai/whisper on the dev word clips (same words, times within 0.02 s)', async () => {
  const model = await loadTimestampedFixture();
  const clips = clipsOf('words' as 'single');
  assert.ok(clips.length >= 4, 'the manifest lists the word clips');
  let words = 0;
  let sameWords = 0;
  let segments = 0;
  let maxError = 0;
  let sumError = 0;
  let maxProbabilityError = 0;
  const started = performance.now();
  for (const path of clips) {
    const name = path.replace(/\.wav$/, '');
    const oracle = JSON.parse(readFileSync(join(FIXTURE_DIR, 'oracle-dev', `${name}.json`), 'utf8')) as { text: string; language: string; segments: OracleSegment[] };
    const audio = await decodeAudio(join(SHARED, 'audio', 'dev', path));
    const result = await transcribe(audio, { model, temperature: 0, wordTimestamps: true, alignmentHeads: 'default' });
    assert.equal(result.language, oracle.language, `${name}: language`);
    assert.equal(result.text, oracle.text, `${name}: text`);
    assert.equal(result.segments.length, oracle.segments.length, `${name}: segments`);
    checkWordInvariants(result.segments, name);
    result.segments.forEach((segment, i) => {
      const want = oracle.segments[i];
      segments++;
      assert.ok(Math.abs(segment.start - want.start) <= 0.02 + 1e-9 && Math.abs(segment.end - want.end) <= 0.02 + 1e-9, `${name} segment ${i}: ${segment.start}-${segment.end} vs openai ${want.start}-${want.end}`);
      const got = segment.words ?? [];
      assert.deepEqual(got.map((w) => w.word), want.words.map((w) => w.word), `${name} segment ${i}: words`);
      got.forEach((w, k) => {
        words++;
        const error = Math.max(Math.abs(w.start - want.words[k].start), Math.abs(w.end - want.words[k].end));
        if (error < 1e-9) sameWords++;
        maxError = Math.max(maxError, error);
        sumError += error;
        maxProbabilityError = Math.max(maxProbabilityError, Math.abs(w.probability - want.words[k].probability));
      });
    });
  }
  console.log(
    `word fidelity: ${clips.length} clips, ${segments} segments, ${words} words all equal to openai's; ` +
      `times identical on ${sameWords}/${words}, max |Δt| ${maxError.toFixed(4)} s, mean |Δt| ${(sumError / Math.max(1, words)).toFixed(4)} s, ` +
      `max |Δ probability| ${maxProbabilityError.toExponential(1)}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  assert.ok(words >= 20, `compared ${words} words`);
  assert.ok(maxError <= 0.02 + 1e-9, `max word time error ${maxError} s`);
});
