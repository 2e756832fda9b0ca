/**
 * transcribeLive on espeak-ng dev clips with the tiny random Whisper and the real Silero VAD: the committed
 * text of a stream fed in pieces against offline decoding of the same utterances, no decode in silence, and the
 * live decoder's scheduling (finals first, partials dropped or held back). The heavier equivalences (word
 * timestamps per piece size, streams decoded together, speculative finals) are in live.slow.test.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveDecoder, LiveTranscriber, openLiveStream, resolveLiveOptions, windowMel, type LiveEvent, type LiveOptions } from '../../../src/asr/live/index.js';
import { WhisperModel, decodeFeatures } from '../../../src/asr/whisper/index.js';
import { N_FRAMES, N_SAMPLES, SAMPLE_RATE, SileroVad, logMelSpectrogram, melWindow } from '../../../src/audio/index.js';
import { isMoxingError } from '../../../src/errors.js';
import { assertWordsOf, clip, collect, committed, concat, loadLiveFixture, pieces, silence } from './fixture.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('asr/live/live', () => {
  let model: WhisperModel;
  let timedModel: WhisperModel;
  let vadModel: SileroVad;
  let speech: Float32Array;
  before(async () => {
    ({ model, timedModel, vadModel, speech } = await loadLiveFixture());
  });

  test('vad policy: one final commit per utterance, the same whatever the piece size, equal to decoding that utterance offline', async () => {
    // A long min-chunk: no partials, only the final decodes (the tiny random model hallucinates: tokens capped).
    const options: LiveOptions = { model, vadModel, policy: 'vad', language: 'en', minChunkS: 10, maxTokens: 48 };
    const small = await collect(pieces(speech, 0.1), options);
    const odd = await collect(pieces(speech, 0.37), options);
    assert.deepEqual(small.map((e) => e.type), ['speech_started', 'speech_stopped', 'committed', 'speech_started', 'speech_stopped', 'committed']);
    assert.deepEqual(odd, small, 'events depend on the audio, not on how it was cut');
    assert.deepEqual(await collect([speech], options), small, 'all of it in one push (a server catching up) too');
    const starts = small.filter((e) => e.type === 'speech_started').map((e) => e.start);
    // Speech starts at Silero's first speech frame over the whole input (the clips begin with some silence).
    const probs = await vadModel.probabilities(speech);
    const frameSeconds = (from: number) => (probs.findIndex((p, i) => i >= from && p >= 0.5) * 512) / SAMPLE_RATE;
    assert.equal(starts[0], frameSeconds(0));
    assert.equal(starts[1], frameSeconds(Math.ceil(((0.6 + 3.3) * SAMPLE_RATE) / 512)));
    assert.ok(starts[1] > 0.6 + 3.2 + 1.5, 'the second sentence starts after the pause');
    for (const c of committed(small)) {
      const samples = speech.subarray(Math.round(c.start * SAMPLE_RATE), Math.round(c.end * SAMPLE_RATE));
      // The committed text is openai's decode of the utterance's audio (prefix padding included) as one window.
      const [offline] = await decodeFeatures(model, await model.encode(windowMel(samples, 80), 1), { language: 'en', temperature: 0, sampleLen: 48 });
      assert.equal(c.text, offline.text);
      assert.ok(c.text.length > 0);
      assert.equal(c.words, undefined, 'words only when asked for');
    }
  });

  test('word timestamps need the timestamped decoder: a clear error before any audio', async () => {
    await assert.rejects(openLiveStream({ model, wordTimestamps: true }), (e) => isMoxingError(e) && e.code === 'MODEL_INVALID' && /timestamped/.test(e.message));
  });

  test('no decode runs while the VAD hears silence or noise below the threshold', async () => {
    const decoder = LiveDecoder.for(model);
    const before = decoder.stats.windows;
    const noise = Float32Array.from({ length: 8 * SAMPLE_RATE }, (_, i) => 0.001 * Math.sin(i * 0.37));
    for (const policy of ['vad', 'local-agreement'] as const) {
      const events = await collect(pieces(concat(silence(5), noise), 0.1), { model, vadModel, policy, language: 'en', minChunkS: 0.5 });
      assert.deepEqual(events, [], policy);
    }
    assert.equal(decoder.stats.windows, before, '13 s of silence and hum per policy cost no decode');
  });

  test('local-agreement: every mid-utterance commit is the agreed head of the previous hypothesis; finals close each utterance; words timed by DTW', async () => {
    const events = await collect(pieces(speech, 0.25), { model: timedModel, vadModel, policy: 'local-agreement', language: 'en', minChunkS: 0.5, maxTokens: 24, wordTimestamps: true });
    let previousPartial: string | undefined;
    let finals = 0;
    let lastEnd = 0;
    for (const e of events) {
      if (e.type === 'partial') previousPartial = e.text;
      if (e.type === 'speech_started') previousPartial = undefined;
      if (e.type !== 'committed') continue;
      assert.ok(e.start >= lastEnd - 0.1, 'commits move forward in time');
      assertWordsOf(e);
      lastEnd = e.end;
      if (e.final) {
        finals++;
        continue;
      }
      assert.ok(previousPartial !== undefined && previousPartial.startsWith(e.text), `"${e.text}" was the head of the last hypothesis "${previousPartial}"`);
    }
    assert.equal(finals, 2, 'one final commit per utterance');
    assert.ok(committed(events).some((e) => !e.final && e.text.length > 0), 'something was agreed on before the utterances ended');
  });

  test('decodes that settle text go first, in a batch of their own, and stop a running partial; partials never wait behind a batch, and go one at a time', async () => {
    const decoder = new LiveDecoder(model);
    const samples = (await clip('en_001.wav')).subarray(0, 2 * SAMPLE_RATE);
    const request = { samples, language: 'en', task: 'transcribe' as const, prompt: [], sampleLen: 8 };
    const zero = { batches: 0, windows: 0, widest: 0, dropped: 0, preempted: 0, speculated: 0, wasted: 0, heldBack: 0 };
    // A partial alone is decoded: dropping needs a settling decode due beside it.
    const alone = await decoder.decodePartial(request);
    assert.ok(alone !== undefined);
    // A batch is running (a partial); meanwhile two partials and a final are asked for: the running partial stops
    // at its next step (preempted), the final goes next, alone, and the partials are dropped at once (they would
    // be stale by their turn, their streams blocked).
    const running = decoder.decodePartial(request);
    await new Promise((resolve) => setImmediate(resolve)); // the batch starts in the next turn
    const queued = [decoder.decodePartial(request), decoder.decode(request), decoder.decodePartial(request)];
    const [preempted, dropped, final, droppedToo] = await Promise.all([running, ...queued]);
    assert.equal(preempted, undefined, 'the running partial gave way to the final');
    assert.deepEqual(final?.tokens, alone.tokens, 'the final decodes the same window to the same tokens');
    assert.equal(dropped, undefined);
    assert.equal(droppedToo, undefined);
    assert.deepEqual({ ...decoder.stats }, { ...zero, batches: 3, windows: 3, widest: 1, dropped: 3, preempted: 1 });
    // Partials asked for in one turn while it is idle: the first is decoded, alone; the others are dropped.
    const together = await Promise.all([decoder.decodePartial(request), decoder.decodePartial(request), decoder.decodePartial(request)]);
    assert.deepEqual(together.map((r) => r?.tokens), [alone.tokens, undefined, undefined]);
    assert.deepEqual({ ...decoder.stats }, { ...zero, batches: 4, windows: 4, widest: 1, dropped: 5, preempted: 1 });
    // A running final is never stopped: a second one waits for it, and both decode.
    const first = decoder.decode(request);
    await new Promise((resolve) => setImmediate(resolve));
    const finals = await Promise.all([first, decoder.decode(request)]);
    assert.deepEqual(finals.map((r) => r.tokens), [alone.tokens, alone.tokens]);
    assert.deepEqual({ ...decoder.stats }, { ...zero, batches: 6, windows: 6, widest: 1, dropped: 5, preempted: 1 });
  });

  test('a caller\'s signal calls a decode off: out of the queue, or its batch stopped once nobody in it is waited for', async () => {
    const decoder = new LiveDecoder(model);
    const samples = (await clip('en_001.wav')).subarray(0, 2 * SAMPLE_RATE);
    const request = { samples, language: 'en', task: 'transcribe' as const, prompt: [], sampleLen: 8 };
    const reference = await decoder.decode(request);
    // Running alone, then called off: it stops and answers undefined.
    const stop = new AbortController();
    const running = decoder.decode(request, stop.signal);
    await new Promise((resolve) => setImmediate(resolve));
    stop.abort();
    assert.equal(await running, undefined);
    // Queued behind a running final, then called off: out of the queue, and the final unharmed.
    const ahead = decoder.decode(request);
    await new Promise((resolve) => setImmediate(resolve));
    const queuedStop = new AbortController();
    const queued = decoder.decode(request, queuedStop.signal);
    queuedStop.abort();
    assert.deepEqual([(await ahead).tokens, await queued], [reference.tokens, undefined]);
    // Two finals in one batch, one called off: the batch runs on for the other.
    const offStop = new AbortController();
    const pair = [decoder.decode(request, offStop.signal), decoder.decode(request)];
    await new Promise((resolve) => setImmediate(resolve));
    offStop.abort();
    const [off, kept] = await Promise.all(pair);
    assert.deepEqual([off, kept?.tokens], [undefined, reference.tokens]);
    assert.deepEqual({ ...decoder.stats }, { batches: 4, windows: 5, widest: 2, dropped: 0, preempted: 0, speculated: 0, wasted: 0, heldBack: 0 });
  });

  test('a hold (a stream\'s final imminent) keeps partials back: new ones are dropped, a running one and finals go on; it ends at release or lapses', async () => {
    const decoder = new LiveDecoder(model);
    const samples = (await clip('en_001.wav')).subarray(0, 2 * SAMPLE_RATE);
    const request = { samples, language: 'en', task: 'transcribe' as const, prompt: [], sampleLen: 8 };
    const reference = await decoder.decodePartial(request);
    assert.ok(reference !== undefined);
    const holder = {};
    // A partial asked for before the hold but not started yet does not start; one already running goes on.
    const unstarted = decoder.decodePartial(request);
    decoder.hold(holder, 60_000);
    assert.equal(await unstarted, undefined);
    decoder.release(holder);
    const running = decoder.decodePartial(request);
    await new Promise((resolve) => setImmediate(resolve));
    decoder.hold(holder, 60_000);
    assert.deepEqual((await running)?.tokens, reference.tokens, 'the running partial answered');
    // Asked for while held: dropped at once, even with the decoder idle; a final is decoded as ever.
    assert.equal(await decoder.decodePartial(request), undefined);
    assert.deepEqual((await decoder.decode(request)).tokens, reference.tokens);
    assert.deepEqual([decoder.stats.heldBack, decoder.stats.preempted, decoder.partialsHeld()], [2, 0, true]);
    decoder.release(holder);
    assert.deepEqual((await decoder.decodePartial(request))?.tokens, reference.tokens, 'released: partials decode again');
    // A hold not renewed lapses (a stream whose connection closed in a pause holds nobody back for good).
    decoder.hold(holder, 20);
    assert.equal(await decoder.decodePartial(request), undefined);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(decoder.partialsHeld(), false);
    assert.deepEqual((await decoder.decodePartial(request))?.tokens, reference.tokens);
  });

  test('while one stream hears the silence that may end its turn, another stream\'s partial does not start; once the turn ends it does', async () => {
    const decoder = new LiveDecoder(model);
    const settings = resolveLiveOptions({ policy: 'vad', language: 'en', minChunkS: 0.5, maxTokens: 8 });
    const [a, b] = [new LiveTranscriber(decoder, vadModel, settings), new LiveTranscriber(decoder, vadModel, settings)];
    const talk = await clip('en_002.wav');
    const partialsOf = (events: readonly LiveEvent[]) => events.filter((e) => e.type === 'partial').length;
    // A: speech cut off, then 0.2 s of silence (its turn ends after 0.5 s): its final is imminent.
    await a.push(concat(silence(0.5), talk.subarray(0, 2 * SAMPLE_RATE)));
    await decoder.idle();
    await a.push(silence(0.2));
    assert.equal(decoder.partialsHeld(), true, 'A is in the silence that may end its turn');
    // B speaks meanwhile: 2 s of speech would start a partial (min chunk 0.5 s); it is held back.
    let bEvents = await b.push(concat(silence(0.3), talk.subarray(0, 2 * SAMPLE_RATE)));
    await decoder.idle();
    bEvents = bEvents.concat(await b.push(talk.subarray(2 * SAMPLE_RATE, 2.1 * SAMPLE_RATE)));
    await decoder.idle();
    assert.equal(partialsOf(bEvents), 0, 'no partial for B while A\'s final is imminent');
    assert.ok(decoder.stats.heldBack >= 1, `held back: ${decoder.stats.heldBack}`);
    // A's turn ends (its final is committed): B's next push starts a partial, answered at the push after.
    const aEnd = await a.push(silence(0.6));
    assert.deepEqual(aEnd.map((e) => e.type), ['speech_stopped', 'committed']);
    assert.equal(decoder.partialsHeld(), false);
    await b.push(talk.subarray(2.1 * SAMPLE_RATE, 2.2 * SAMPLE_RATE));
    await decoder.idle();
    assert.equal(partialsOf(await b.push(talk.subarray(2.2 * SAMPLE_RATE, 2.3 * SAMPLE_RATE))), 1);
    await Promise.all([a.finish(), b.finish()]);
  });

  test('turnDetection null: nothing is cut until the end of the input, then one final commit of all of it', async () => {
    const events = await collect(pieces(speech, 0.5), { model, policy: 'vad', turnDetection: null, language: 'en', minChunkS: 10 });
    assert.deepEqual(events.map((e) => e.type), ['committed']);
    const [c] = committed(events);
    assert.deepEqual([c.start, c.end], [0, speech.length / SAMPLE_RATE]);
  });

  test('windowMel computes only the frames that reach the audio, and gives the window of the full 30 s padding, bit for bit', async () => {
    const speechClip = await clip('en_001.wav');
    const noise = Float32Array.from({ length: 30 * SAMPLE_RATE }, (_, i) => 0.3 * Math.sin(i * 0.05) + 0.1 * Math.sin(i * 1.7));
    const cases: [string, Float32Array][] = [
      ['a clip', speechClip],
      ['an odd frame count', speechClip.subarray(0, 160 * 201 + 37)],
      ['a tenth of a second', noise.subarray(0, 1600)],
      ['less than a frame', noise.subarray(0, 100)],
      ['30 s', noise],
      ['30 s less a sample', noise.subarray(1)],
      ['silence', silence(2)],
    ];
    for (const [label, samples] of cases) {
      for (const nMels of [80, 128] as const) {
        const full = logMelSpectrogram(samples, nMels, { padding: N_SAMPLES });
        const expected = melWindow(full, 0, Math.min(N_FRAMES, full.nFrames - N_FRAMES)).data;
        assert.deepEqual(windowMel(samples, nMels), expected, `${label}, ${nMels} mels`);
      }
    }
  });

  test('bad options are refused before any audio', async () => {
    for (const bad of [{ policy: 'greedy' }, { minChunkS: 0 }, { maxTokens: 500 }, { turnDetection: { silenceDurationMs: -1 } }, { task: 'summarise' }] as LiveOptions[]) {
      await assert.rejects(openLiveStream({ model, ...bad }), (e) => isMoxingError(e) && e.code === 'BAD_ARGUMENT', JSON.stringify(bad));
    }
  });
});
