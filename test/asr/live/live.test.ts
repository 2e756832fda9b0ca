/**
 * transcribeLive on espeak-ng dev clips with the tiny random Whisper and the real Silero VAD: the committed
 * text of a stream fed in pieces against offline decoding of the same utterances, no decode in silence, and
 * streams decoded in one batch giving exactly the events each gives alone.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { LiveDecoder, LiveTranscriber, openLiveStream, resolveLiveOptions, transcribeLive, windowMel, type LiveEvent, type LiveOptions } from '../../../src/asr/live/index.js';
import { WhisperModel, decodeFeatures, resolveAlignmentHeads, timeWindowWords } from '../../../src/asr/whisper/index.js';
import { cutWindow } from '../../../src/asr/whisper/window-segments.js';
import type { WindowSegmentDraft } from '../../../src/asr/whisper/word-timestamps.js';
import { N_FRAMES, N_SAMPLES, SAMPLE_RATE, SileroVad, decodeAudio, logMelSpectrogram, melWindow } from '../../../src/audio/index.js';
import { isMoxingError } from '../../../src/errors.js';
import { concatFloat32 } from '../../helpers/arrays.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('asr/live/live', () => {
  const SHARED = resolve(process.cwd(), '../shared');
  const MODEL = join(SHARED, 'models/whisper-tiny-random');
  const clip = (name: string): Promise<Float32Array> => decodeAudio(join(SHARED, 'audio/dev/single', name));
  const silence = (seconds: number): Float32Array => new Float32Array(Math.round(seconds * SAMPLE_RATE));

  const concat = (...parts: Float32Array[]): Float32Array => concatFloat32(parts);

  function* pieces(samples: Float32Array, seconds: number): Generator<Float32Array> {
    const size = Math.round(seconds * SAMPLE_RATE);
    for (let s = 0; s < samples.length; s += size) yield samples.subarray(s, s + size);
  }

  async function collect(source: Iterable<Float32Array>, options: LiveOptions): Promise<LiveEvent[]> {
    const events: LiveEvent[] = [];
    for await (const event of transcribeLive(source, options)) events.push(event);
    return events;
  }

  const committed = (events: readonly LiveEvent[]) => events.filter((e) => e.type === 'committed');

  let model: WhisperModel;
  /** The same weights with the timestamped decoder (cross attentions), for word timestamps. */
  let timedModel: WhisperModel;
  let vadModel: SileroVad;
  /** Two sentences, each after a pause: 0.6 s silence, en_001 (3.2 s), 1.5 s silence, en_002 (3.2 s), 1 s silence. */
  let speech: Float32Array;
  before(async () => {
    model = await WhisperModel.load(MODEL);
    timedModel = await WhisperModel.load(MODEL, { timestamped: true });
    vadModel = await SileroVad.load();
    speech = concat(silence(0.6), await clip('en_001.wav'), silence(1.5), await clip('en_002.wav'), silence(1));
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

  type Commit = Extract<LiveEvent, { type: 'committed' }>;

  /** Words of a commit: its text joined, each with a probability, in order, inside the commit. */
  function assertWordsOf(c: Commit): void {
    const words = c.words ?? [];
    assert.equal(words.map((w) => w.word).join('').trim(), c.text);
    let previousEnd = c.start;
    for (const w of words) {
      assert.ok(typeof w.probability === 'number' && w.probability >= 0 && w.probability <= 1, `${w.word}: probability ${w.probability}`);
      assert.ok(w.start >= previousEnd - 1e-9 && w.start <= w.end, `${w.word} [${w.start}, ${w.end}] after ${previousEnd}`);
      previousEnd = w.end;
    }
    assert.ok(previousEnd <= c.end + 1e-9, `the last word ends by ${c.end}`);
  }

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

  /** Streams fed in the same turns, as a server's clients' appends arrive together; the events and the decoder's work. */
  async function together(audios: readonly Float32Array[], options: LiveOptions): Promise<{ events: LiveEvent[][]; windows: number; batches: number; dropped: number }> {
    const decoder = LiveDecoder.for(options.model as WhisperModel);
    const before = { ...decoder.stats };
    const streams = await Promise.all(audios.map(() => openLiveStream(options)));
    const events: LiveEvent[][] = audios.map(() => []);
    // Pieces of min-chunk length: each stream asks for a decode at every piece while it hears speech.
    const split = audios.map((a) => [...pieces(a, 1)]);
    for (let i = 0; i < Math.max(...split.map((p) => p.length)); i++) {
      const answers = await Promise.all(streams.map((s, k) => (split[k][i] ? s.push(split[k][i]) : [])));
      answers.forEach((a, k) => events[k].push(...a));
    }
    (await Promise.all(streams.map((s) => s.finish()))).forEach((a, k) => events[k].push(...a));
    const after = decoder.stats;
    return { events, windows: after.windows - before.windows, batches: after.batches - before.batches, dropped: after.dropped - before.dropped };
  }

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

  /**
   * The events of each push, pushes of `seconds`, and the decoder's speculation counters over the run. The
   * decoder is let go idle after each push, as when audio comes in real time: the partial asked for at one push
   * answers at the next.
   */
  async function perPush(audio: Float32Array, seconds: number, options: LiveOptions): Promise<{ pushes: LiveEvent[][]; speculated: number; wasted: number; heldBack: number }> {
    const decoder = LiveDecoder.for(options.model as WhisperModel);
    const before = { ...decoder.stats };
    const stream = await openLiveStream(options);
    const pushes: LiveEvent[][] = [];
    for (const piece of pieces(audio, seconds)) {
      pushes.push(await stream.push(piece));
      await decoder.idle();
    }
    pushes.push(await stream.finish());
    return { pushes, speculated: decoder.stats.speculated - before.speculated, wasted: decoder.stats.wasted - before.wasted, heldBack: decoder.stats.heldBack - before.heldBack };
  }

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
