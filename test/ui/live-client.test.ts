/**
 * The Live page's client pieces, in Node: the worklet's resampler to pcm16 at 24 kHz (chunked = whole, pair
 * means at 48 kHz, a tone keeps its frequency and level at 44.1 and 16 kHz), base64 as Node's, and the
 * realtime events folded into committed (black) and partial (grey) text with the latency.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToBase64, Pcm16Resampler, toPcm16 } from '../../ui/src/live/resample.js';
import { applyEvent, EMPTY_LIVE, medianLatency, realtimeProtocols, realtimeUrl, sentAt, sessionUpdate } from '../../ui/src/live/realtime.js';

const tone = (rate: number, hz: number, seconds: number, level = 0.5): Float32Array =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => level * Math.sin((2 * Math.PI * hz * i) / rate));

/** Resamples in the browser's 128-sample render quanta. */
function inQuanta(resampler: Pcm16Resampler, input: Float32Array): Int16Array {
  const parts: number[] = [];
  for (let i = 0; i < input.length; i += 128) parts.push(...resampler.push(input.subarray(i, i + 128)));
  return Int16Array.from(parts);
}

/** Amplitude of the `hz` component of `samples` (a least-squares fit of sin and cos), in pcm16 units. */
function amplitudeAt(samples: Int16Array, rate: number, hz: number): number {
  let s = 0;
  let c = 0;
  samples.forEach((x, i) => {
    s += x * Math.sin((2 * Math.PI * hz * i) / rate);
    c += x * Math.cos((2 * Math.PI * hz * i) / rate);
  });
  return (2 * Math.hypot(s, c)) / samples.length;
}

test('48 kHz → 24 kHz: each output is the mean of two inputs, the same in quanta as in one call', () => {
  const input = tone(48_000, 1000, 0.5);
  const whole = new Pcm16Resampler(48_000, 24_000).push(input);
  assert.equal(whole.length, input.length / 2);
  assert.deepEqual(inQuanta(new Pcm16Resampler(48_000, 24_000), input), whole);
  for (let k = 0; k < whole.length; k += 97) assert.equal(whole[k], Math.round(((input[2 * k] + input[2 * k + 1]) / 2) * 32767));
});

test('44.1 and 16 kHz → 24 kHz: the length scales by the rate, chunking changes nothing, a 440 Hz tone keeps its level', () => {
  for (const rate of [44_100, 16_000]) {
    const input = tone(rate, 440, 1);
    const whole = new Pcm16Resampler(rate, 24_000).push(input);
    assert.ok(Math.abs(whole.length - 24_000) <= 2, `${rate}: ${whole.length} samples`);
    assert.deepEqual(inQuanta(new Pcm16Resampler(rate, 24_000), input), whole);
    const level = amplitudeAt(whole, 24_000, 440) / 32767;
    assert.ok(Math.abs(level - 0.5) < 0.01, `${rate}: level ${level}`);
    // And nothing of it lands at another frequency.
    assert.ok(amplitudeAt(whole, 24_000, 1000) / 32767 < 0.01);
  }
  assert.throws(() => new Pcm16Resampler(0, 24_000), /positive/);
});

test('pcm16 clips to ±32767; base64 is Node\'s', () => {
  assert.deepEqual([...toPcm16([0, 1, -1, 1.5, -2, 0.5])], [0, 32767, -32767, 32767, -32767, 16384]);
  const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919) % 256);
  assert.equal(bytesToBase64(bytes), Buffer.from(bytes).toString('base64'));
});

test('realtime events: deltas commit (black), partials replace each other (grey), completed closes the item with its latency', () => {
  const marks: [number, number][] = [[500, 10_000], [1000, 10_500], [1500, 11_000], [2000, 11_500]];
  const at = (ms: number) => sentAt(marks, ms);
  const events = [
    { type: 'session.created' },
    { type: 'input_audio_buffer.speech_started', item_id: 'a' },
    { type: 'conversation.item.input_audio_transcription.partial', item_id: 'a', text: 'hel' },
    { type: 'conversation.item.input_audio_transcription.partial', item_id: 'a', text: 'hello wor' },
    { type: 'conversation.item.input_audio_transcription.delta', item_id: 'a', delta: 'hello' },
    { type: 'conversation.item.input_audio_transcription.partial', item_id: 'a', text: 'world' },
  ];
  let state = EMPTY_LIVE;
  for (const event of events) state = applyEvent(state, event, 0, at);
  assert.deepEqual(state.items, [{ id: 'a', committed: 'hello', partial: 'world', done: false }]);
  assert.equal(state.speaking, true);
  state = applyEvent(state, { type: 'input_audio_buffer.speech_stopped', item_id: 'a', audio_end_ms: 1400 }, 0, at);
  state = applyEvent(state, { type: 'conversation.item.input_audio_transcription.completed', item_id: 'a', transcript: 'hello world' }, 11_750, at);
  assert.deepEqual(state.items, [{ id: 'a', committed: 'hello world', partial: '', done: true, audioEndMs: 1400, latencyMs: 750 }]);
  assert.equal(state.speaking, false);
  state = applyEvent(state, { type: 'conversation.item.input_audio_transcription.completed', item_id: 'b', transcript: 'again' }, 0, at);
  assert.equal(state.items[1].latencyMs, undefined); // no speech_stopped: no audio end to measure from
  assert.equal(medianLatency(state.items), 750);
  assert.equal(applyEvent(state, { type: 'error', error: { message: 'bad audio' } }, 0, at).error, 'bad audio');
});

test('the socket: key as a subprotocol, ws/wss by the page, the session as moxing\'s server validates it', () => {
  assert.deepEqual(realtimeProtocols(''), ['realtime']);
  assert.deepEqual(realtimeProtocols('k1'), ['realtime', 'openai-insecure-api-key.k1']);
  assert.equal(realtimeUrl({ protocol: 'https:', host: 'example.com' }), 'wss://example.com/v1/realtime?intent=transcription');
  assert.equal(realtimeUrl({ protocol: 'http:', host: '127.0.0.1:8080' }), 'ws://127.0.0.1:8080/v1/realtime?intent=transcription');
  assert.deepEqual(sessionUpdate('whisper-1', 'en', 24_000), {
    type: 'session.update',
    session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24_000 }, transcription: { model: 'whisper-1', language: 'en' }, turn_detection: { type: 'server_vad', silence_duration_ms: 500, prefix_padding_ms: 300 } } } },
  });
});
