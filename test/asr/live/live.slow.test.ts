/**
 * The live-transcription equivalences that decode the most: each commit's words equal openai's word timing of
 * its utterance whatever the piece size, streams decoded together give what each gives alone, and speculative
 * finals change no event. The rest is in live.test.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveEvent, LiveOptions } from '../../../src/asr/live/index.js';
import { decodeFeatures, resolveAlignmentHeads, timeWindowWords, type WhisperModel } from '../../../src/asr/whisper/index.js';
import { windowMel } from '../../../src/asr/live/index.js';
import { cutWindow } from '../../../src/asr/whisper/window-segments.js';
import type { WindowSegmentDraft } from '../../../src/asr/whisper/word-timestamps.js';
import { SAMPLE_RATE, type SileroVad } from '../../../src/audio/index.js';
import { assertWordsOf, clip, collect, committed, concat, loadLiveFixture, perPush, pieces, silence, together } from './fixture.js';

describe('asr/live/live (slow)', () => {
  let model: WhisperModel;
  let timedModel: WhisperModel;
  let vadModel: SileroVad;
  let speech: Float32Array;
  before(async () => {
    ({ model, timedModel, vadModel, speech } = await loadLiveFixture());
  });

  test('vad policy with word timestamps: each commit\'s words are openai\'s word timing of its utterance decoded alone, whatever the piece size', async () => {
    const options: LiveOptions = { model: timedModel, vadModel, policy: 'vad', language: 'en', minChunkS: 10, maxTokens: 48, wordTimestamps: true };
    const small = await collect(pieces(speech, 0.1), options);
    assert.deepEqual(await collect(pieces(speech, 0.37), options), small, 'the same words whatever the pieces');
    assert.deepEqual(await collect([speech], options), small, 'and all of it in one push');
    const commits = committed(small);
    assert.equal(commits.length, 2);
    const { tokenizer } = timedModel;
    const heads = resolveAlignmentHeads('config', timedModel);
    for (const c of commits) {
      assertWordsOf(c);
      assert.ok(c.words!.length > 0);
      // Offline: the utterance's audio as one window, decoded, cut into segments (the unfinished tail kept, to
      // the end of the audio) and timed by openai's add_word_timestamps; then shifted to the commit's start.
      const samples = speech.subarray(Math.round(c.start * SAMPLE_RATE), Math.round(c.end * SAMPLE_RATE));
      const features = await timedModel.encode(windowMel(samples, 80), 1);
      const [offline] = await decodeFeatures(timedModel, features, { language: 'en', temperature: 0, sampleLen: 48 });
      const frames = Math.floor(samples.length / 160);
      const cut = cutWindow(offline.tokens, tokenizer.timestampBegin, { timeOffset: 0, segmentFrames: frames, inputStride: 2, timePrecision: 0.02 });
      const drafts: WindowSegmentDraft[] = cut.segments.map((s) => ({ ...s, words: [] }));
      const tail = offline.tokens.slice(cut.segments.reduce((n, s) => n + s.tokens.length, 0));
      if (tail.length > 0) drafts.push({ start: (tail[0] - tokenizer.timestampBegin) * 0.02, end: samples.length / SAMPLE_RATE, tokens: tail, words: [] });
      await timeWindowWords(drafts, {
        model: timedModel, features, heads, sotSequence: tokenizer.sotSequence('en', 'transcribe'), noTimestamps: tokenizer.noTimestamps, eot: tokenizer.eot,
        splitToWordTokens: (t) => tokenizer.splitToWordTokens(t, 'en'), numFrames: frames, seekFrames: 0, lastSpeechTimestamp: 0,
        prependPunctuations: '"\'“¿([{-', appendPunctuations: '"\'.。,，!！?？:：”)]}、',
      });
      const expected = drafts.flatMap((d) => d.words);
      assert.deepEqual(c.words!.map((w) => [w.word, w.probability]), expected.map((w) => [w.word, w.probability]));
      // Shifted by the utterance's start, to the millisecond (commit times are rounded to it).
      c.words!.forEach((w, i) => {
        assert.ok(Math.abs(w.start - (expected[i].start + c.start)) <= 0.0005 + 1e-9, `${w.word} start ${w.start} vs ${expected[i].start} + ${c.start}`);
        assert.ok(Math.abs(w.end - (expected[i].end + c.start)) <= 0.0005 + 1e-9, `${w.word} end`);
      });
    }
  });

  test('streams decoded together give the commits and turns each gives alone; finals and agreement steps batch, partials may be dropped', async () => {
    const other = concat(silence(0.3), await clip('en_000.wav'), silence(1));
    const settled = (events: readonly LiveEvent[]) => events.filter((e) => e.type !== 'partial');
    for (const policy of ['vad', 'local-agreement'] as const) {
      const options: LiveOptions = { model, vadModel, policy, language: 'en', minChunkS: 1, maxTokens: 12 };
      const aloneA = await collect(pieces(speech, 1), options);
      const aloneB = await collect(pieces(other, 1), options);
      const run = await together([speech, other], options);
      const label = `${policy}: ${run.windows} windows in ${run.batches} batches, ${run.dropped} partials dropped`;
      if (policy === 'local-agreement') {
        // Every decode settles text: none is dropped, and the streams' steps share batches.
        assert.deepEqual(run.events, [aloneA, aloneB], label);
        assert.ok(run.dropped === 0 && run.batches < run.windows, label);
        continue;
      }
      // A partial asked for while another stream's decode runs (or beside it) is dropped, and asked for again at
      // the stream's next push: partials may differ, and nothing else.
      assert.deepEqual(run.events.map(settled), [settled(aloneA), settled(aloneB)], label);
      assert.ok(run.dropped > 0, label);
      // The same speech on two streams: their turns end together, and their finals go in one batch.
      const twins = await together([speech, speech], options);
      assert.deepEqual(twins.events.map(settled), [settled(aloneA), settled(aloneA)]);
      assert.ok(twins.batches < twins.windows, `twins: ${twins.windows} windows in ${twins.batches} batches`);
    }
  });

  test('speculative finals: every push gives the events it gives without speculation (the same commits, never sooner), and speech heard again throws one away', async () => {
    const options: LiveOptions = { model, vadModel, policy: 'vad', language: 'en', minChunkS: 1, maxTokens: 12 };
    const plain = await perPush(speech, 0.1, { ...options, speculativeFinal: false });
    const ahead = await perPush(speech, 0.1, options);
    assert.deepEqual(ahead.pushes, plain.pushes);
    const events = plain.pushes.flat();
    assert.equal(committed(events).length, 2);
    assert.ok(events.some((e) => e.type === 'partial'), 'partials too');
    assert.deepEqual([plain.speculated, plain.wasted], [0, 0]);
    assert.deepEqual([ahead.speculated, ahead.wasted], [2, 0], 'each turn\'s final was decoded ahead, and used');
    // A stream alone holds back none of its own partials: it starts none in silence, and speech after a pause
    // between words ends its hold before it asks for the next (a partial asked for at every push here).
    const sentence = await clip('en_001.wav');
    const gapped = concat(silence(0.6), sentence.subarray(0, 1.5 * SAMPLE_RATE), silence(0.25), sentence.subarray(1.5 * SAMPLE_RATE), silence(1));
    const eager = await perPush(gapped, 0.1, { ...options, minChunkS: 0.1 });
    assert.deepEqual([plain.heldBack, ahead.heldBack, eager.heldBack], [0, 0, 0]);
    // A pause shorter than the silence that ends a turn (the clips' own silences make one of about 1.1 s): the
    // final started in it is thrown away, and the turn's final (after the second sentence) is the same.
    const paused = concat(silence(0.6), await clip('en_001.wav'), await clip('en_002.wav'), silence(2));
    const long: LiveOptions = { ...options, turnDetection: { silenceDurationMs: 1500 } };
    const plainPaused = await perPush(paused, 0.1, { ...long, speculativeFinal: false });
    const aheadPaused = await perPush(paused, 0.1, long);
    assert.deepEqual(aheadPaused.pushes, plainPaused.pushes);
    const settled = plainPaused.pushes.flat().filter((e) => e.type !== 'partial');
    assert.deepEqual(settled.map((e) => e.type), ['speech_started', 'speech_stopped', 'committed'], 'one turn over both sentences');
    assert.ok(aheadPaused.wasted >= 1 && aheadPaused.speculated === aheadPaused.wasted + 1, `${aheadPaused.speculated} speculated, ${aheadPaused.wasted} thrown away`);
  });

  test('pushed faster than partials decode (they answer at a later push, or are dropped for the final), the turns and commits stay the same', async () => {
    const options: LiveOptions = { model, vadModel, policy: 'vad', language: 'en', minChunkS: 1, maxTokens: 12 };
    const paced = await perPush(speech, 0.1, options);
    const rushed = await collect(pieces(speech, 0.1), options);
    const settled = (events: readonly LiveEvent[]) => events.filter((e) => e.type !== 'partial');
    assert.deepEqual(settled(rushed), settled(paced.pushes.flat()));
  });
});
