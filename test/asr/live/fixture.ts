/**
 * What the live-transcription tests share: the tiny random Whisper (plain and timestamped), the real Silero VAD, a
 * two-sentence recording, and helpers that feed a stream in pieces and gather its events.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { LiveDecoder, openLiveStream, transcribeLive, type LiveEvent, type LiveOptions } from '../../../src/asr/live/index.js';
import { WhisperModel } from '../../../src/asr/whisper/index.js';
import { SAMPLE_RATE, SileroVad, decodeAudio } from '../../../src/audio/index.js';
import { concatFloat32 } from '../../helpers/arrays.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');
export const clip = (name: string): Promise<Float32Array> => decodeAudio(join(SHARED, 'audio/dev/single', name));
export const silence = (seconds: number): Float32Array => new Float32Array(Math.round(seconds * SAMPLE_RATE));

export const concat = (...parts: Float32Array[]): Float32Array => concatFloat32(parts);

export function* pieces(samples: Float32Array, seconds: number): Generator<Float32Array> {
  const size = Math.round(seconds * SAMPLE_RATE);
  for (let s = 0; s < samples.length; s += size) yield samples.subarray(s, s + size);
}

export async function collect(source: Iterable<Float32Array>, options: LiveOptions): Promise<LiveEvent[]> {
  const events: LiveEvent[] = [];
  for await (const event of transcribeLive(source, options)) events.push(event);
  return events;
}

export const committed = (events: readonly LiveEvent[]) => events.filter((e) => e.type === 'committed');

export interface LiveFixture {
  model: WhisperModel;
  /** The same weights with the timestamped decoder (cross attentions), for word timestamps. */
  timedModel: WhisperModel;
  vadModel: SileroVad;
  /** Two sentences, each after a pause: 0.6 s silence, en_001 (3.2 s), 1.5 s silence, en_002 (3.2 s), 1 s silence. */
  speech: Float32Array;
}

export async function loadLiveFixture(): Promise<LiveFixture> {
  return {
    model: await WhisperModel.load(MODEL),
    timedModel: await WhisperModel.load(MODEL, { timestamped: true }),
    vadModel: await SileroVad.load(),
    speech: concat(silence(0.6), await clip('en_001.wav'), silence(1.5), await clip('en_002.wav'), silence(1)),
  };
}

export type Commit = Extract<LiveEvent, { type: 'committed' }>;

/** Words of a commit: its text joined, each with a probability, in order, inside the commit. */
export function assertWordsOf(c: Commit): void {
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

/** Streams fed in the same turns, as a server's clients' appends arrive together; the events and the decoder's work. */
export async function together(audios: readonly Float32Array[], options: LiveOptions): Promise<{ events: LiveEvent[][]; windows: number; batches: number; dropped: number }> {
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

/**
 * The events of each push, pushes of `seconds`, and the decoder's speculation counters over the run. The
 * decoder is let go idle after each push, as when audio comes in real time: the partial asked for at one push
 * answers at the next.
 */
export async function perPush(audio: Float32Array, seconds: number, options: LiveOptions): Promise<{ pushes: LiveEvent[][]; speculated: number; wasted: number; heldBack: number }> {
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
