/**
 * `moxing listen` in-process on a file source: the settled lines are the library's final commits of the same
 * audio, the same through a server (--url), --output writes the session, and bad sources or flags are refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { transcribeLive } from '../../src/asr/live/index.js';
import { WhisperModel } from '../../src/asr/whisper/index.js';
import { SAMPLE_RATE, decodeAudio } from '../../src/audio/index.js';
import { writeWav } from '../audio/wav-writer.js';
import { buildApp } from '../../src/server/index.js';
import { parseSrt } from '../../src/formats/index.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('cli/listen', () => {
  const SHARED = resolve(process.cwd(), '../shared');
  const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
  /** Two sentences with pauses, written in before(): turns the VAD closes. */
  let CLIP: string;
  const FLAGS = ['--model', MODEL, '--language', 'en', '--policy', 'vad', '--min-chunk-s', '10', '--max-tokens', '24', '--speed', '0'];

  let dir: string;
  let expected: { text: string; start: number; end: number }[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moxing-listen-'));
    const sentence = (name: string) => decodeAudio(join(SHARED, 'audio/dev/single', name));
    const silence = (s: number) => new Float32Array(s * SAMPLE_RATE);
    const parts = [silence(0.5), await sentence('en_001.wav'), silence(1.5), await sentence('en_002.wav'), silence(1)];
    const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (samples.set(p, at), at + p.length), 0);
    CLIP = join(dir, 'two-sentences.wav');
    writeFileSync(CLIP, writeWav({ sampleRate: SAMPLE_RATE, channels: 1, encoding: 's16' }, Array.from(samples, (v) => Math.round(v * 32768))));
    const pieces = function* () {
      for (let s = 0; s < samples.length; s += 1600) yield samples.subarray(s, s + 1600);
    };
    expected = [];
    for await (const e of transcribeLive(pieces(), { model: await WhisperModel.load(MODEL), language: 'en', policy: 'vad', minChunkS: 10, maxTokens: 24 })) {
      if (e.type === 'committed' && e.final && e.text) expected.push(e);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a file: one settled line per utterance, the library\'s final commit of it, and the session as srt', async () => {
    assert.ok(expected.length >= 2, `${expected.length} utterances in the clip`);
    const output = join(dir, 'session.srt');
    const run = await runMoxingInProcess(['listen', CLIP, ...FLAGS, '--output', output]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.replace(/^\[[^\]]*\] /, '')), expected.map((e) => e.text));
    const cues = parseSrt(readFileSync(output, 'utf8'));
    assert.deepEqual(cues.map((c) => c.text), expected.map((e) => e.text));
  });

  test('--word-timestamps: the json session carries each commit\'s words as the library times them; srt cues are packed from them', async () => {
    const pieces = function* (samples: Float32Array) {
      for (let s = 0; s < samples.length; s += 1600) yield samples.subarray(s, s + 1600);
    };
    const words: { word: string; start: number; end: number; probability?: number }[] = [];
    const options = { model: await WhisperModel.load(MODEL, { timestamped: true }), language: 'en', policy: 'vad' as const, minChunkS: 10, maxTokens: 24, wordTimestamps: true };
    for await (const e of transcribeLive(pieces(await decodeAudio(CLIP)), options)) if (e.type === 'committed') words.push(...(e.words ?? []));
    assert.ok(words.length >= 2 && words.every((w) => typeof w.probability === 'number'), `${words.length} timed words`);
    const json = join(dir, 'session.json');
    const run = await runMoxingInProcess(['listen', CLIP, ...FLAGS, '--word-timestamps', '--output', json]);
    assert.equal(run.code, 0, run.stderr);
    const session = JSON.parse(readFileSync(json, 'utf8')) as { segments: { text: string; words: { word: string; start: number; end: number; probability: number }[] }[] };
    assert.deepEqual(session.segments.map((s) => s.text.trim()), expected.map((e) => e.text));
    assert.deepEqual(session.segments.flatMap((s) => s.words), words);
    for (const s of session.segments) assert.equal(s.words.map((w) => w.word).join('').trim(), s.text.trim());
    const srt = join(dir, 'session-words.srt');
    assert.equal((await runMoxingInProcess(['listen', CLIP, ...FLAGS, '--word-timestamps', '--output', srt])).code, 0);
    const cues = parseSrt(readFileSync(srt, 'utf8'));
    assert.equal(cues[0].start, words[0].start, 'the first cue starts at the first word, not at the turn');
    assert.equal(cues.map((c) => c.text).join(' ').replace(/\s+/g, ' '), words.map((w) => w.word).join('').trim().replace(/\s+/g, ' '));
  });

  test('--url: the same lines from a server\'s /v1/realtime', async () => {
    const app = await buildApp({ images: false, calc: false, models: [MODEL], security: { apiKey: 'k1' }, realtime: { maxTokens: 24 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const run = await runMoxingInProcess(['listen', CLIP, ...FLAGS.filter((f, i) => f !== '--model' && FLAGS[i - 1] !== '--model'), '--url', url], { MOXING_API_KEY: 'k1' });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split('\n').map((l) => l.replace(/^\[[^\]]*\] /, '')), expected.map((e) => e.text));
      const refused = await runMoxingInProcess(['listen', CLIP, '--speed', '0', '--url', url], { MOXING_API_KEY: 'wrong' });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /401/);
    } finally {
      await app.close();
    }
  });

  test('--stdin: raw PCM at another rate is resampled and transcribed', async () => {
    const { Readable } = await import('node:stream');
    const { resample } = await import('../../src/audio/index.js');
    const samples = resample(await decodeAudio(join(SHARED, 'audio/dev/single/en_001.wav')), SAMPLE_RATE, 24_000);
    const bytes = Buffer.alloc(samples.length * 2);
    samples.forEach((v, i) => bytes.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), 2 * i));
    const stdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;
    Object.defineProperty(process, 'stdin', { value: Readable.from([bytes.subarray(0, 10_001), bytes.subarray(10_001)]), configurable: true });
    try {
      const run = await runMoxingInProcess(['listen', '--stdin', '--rate', '24000', ...FLAGS]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim().split('\n').length, 1, run.stdout);
    } finally {
      Object.defineProperty(process, 'stdin', stdin);
    }
  });

  test('bad sources and flags: a clear error, a non-zero exit, no output file', async () => {
    const output = join(dir, 'never.srt');
    for (const [args, pattern] of [
      [['listen', ...FLAGS], /exactly one source/],
      [['listen', CLIP, '--stdin', ...FLAGS], /exactly one source/],
      [['listen', CLIP, '--translate', '--url', 'http://127.0.0.1:9', '--speed', '0'], /in-process only/],
      [['listen', CLIP, '--word-timestamps', '--url', 'http://127.0.0.1:9', '--speed', '0'], /--word-timestamps runs in-process only/],
      [['listen', CLIP, ...FLAGS, '--output', join(dir, 'x.docx')], /\.srt, \.vtt or \.json/],
      [['listen', CLIP, '--policy', 'greedy'], /--policy/],
      [['listen', join(dir, 'missing.wav'), ...FLAGS, '--output', output], /missing\.wav|not found|no such/i],
      [['listen', CLIP, '--speed', '0', '--url', 'http://127.0.0.1:9'], /cannot reach/],
    ] as const) {
      const run = await runMoxingInProcess(args);
      assert.notEqual(run.code, 0, args.join(' '));
      assert.match(run.stderr, pattern, args.join(' '));
    }
    assert.equal(existsSync(output), false);
  });
});
