import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/server/index.js';
import { loadDiarizer } from '../../src/speakers/index.js';
import { writeWav } from '../audio/wav-writer.js';
import { ensureSpeakerModels } from '../models/speakers.js';
import { conversation } from './conversations.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';

const WHISPER = ensureWhisperModelSync(TERSE_WHISPER);

function multipart(parts: readonly { name: string; value: string | Buffer; filename?: string }[]): { payload: Buffer; headers: Record<string, string> } {
  const boundary = 'diarizex';
  const chunks = parts.map((p) =>
    Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"\r\nContent-Type: audio/wav` : ''}\r\n\r\n`),
      Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value),
      Buffer.from('\r\n'),
    ]),
  );
  return { payload: Buffer.concat([...chunks, Buffer.from(`--${boundary}--\r\n`)]), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

async function setup() {
  const models = await ensureSpeakerModels();
  // Two voices in three turns: one 30 s window, so each transcription in these tests is a single decode.
  const c = await conversation({ seed: 301, speakers: 2, turns: 3, crosstalk: false });
  const wav = Buffer.from(writeWav({ sampleRate: 16000, channels: 1, encoding: 'f32' }, c.samples));
  const diarization = { segmentationModel: models.segmentation, embeddingModel: models.wespeaker };
  const app = await buildApp({ images: false, calc: false, models: [WHISPER], diarization });
  const expected = await (await loadDiarizer(diarization)).diarize(c.samples, { numSpeakers: 2 });
  return { app, c, wav, expected };
}

test('POST /v1/audio/diarization: LocalAI fields, json and rttm answers equal to the library; bad fields refused', async () => {
  const { app, wav, expected } = await setup();
  try {
    const json = await app.inject({ method: 'POST', url: '/v1/audio/diarization', ...multipart([{ name: 'num_speakers', value: '2' }, { name: 'file', value: wav, filename: 'a.wav' }]) });
    assert.equal(json.statusCode, 200, json.body);
    const body = json.json() as { num_speakers: number; speakers: string[]; segments: { speaker: string; start: number; end: number }[] };
    assert.equal(body.num_speakers, 2);
    assert.deepEqual(body.segments.map(({ speaker, start, end }) => ({ start, end, speaker })), expected.segments);
    const rttm = await app.inject({ method: 'POST', url: '/v1/audio/diarization', ...multipart([{ name: 'file', value: wav, filename: 'a.wav' }, { name: 'num_speakers', value: '2' }, { name: 'response_format', value: 'rttm' }]) });
    assert.equal(rttm.statusCode, 200);
    assert.equal(rttm.body.split('\n').filter(Boolean).length, expected.segments.length);
    assert.match(rttm.body, /^SPEAKER audio 1 /);
    for (const [name, value, pattern] of [
      ['num_speakers', '0', /num_speakers/],
      ['clustering_threshold', 'abc', /clustering_threshold must be a number/],
      ['path', '/etc/passwd', /unknown field/],
      ['response_format', 'xml', /response_format/],
    ] as const) {
      const bad = await app.inject({ method: 'POST', url: '/v1/audio/diarization', ...multipart([{ name, value }, { name: 'file', value: wav, filename: 'a.wav' }]) });
      assert.equal(bad.statusCode, 400, `${name}: ${bad.body}`);
      assert.match(bad.body, pattern);
    }
    const notAudio = await app.inject({ method: 'POST', url: '/v1/audio/diarization', ...multipart([{ name: 'file', value: Buffer.from('not audio'), filename: 'a.wav' }]) });
    assert.ok(notAudio.statusCode >= 400 && notAudio.statusCode < 500, notAudio.body);
    assert.doesNotMatch(notAudio.body, /\/work\//);
  } finally {
    await app.close();
  }
});

test('/v1/audio/transcriptions response_format=diarized_json: segments with speakers, known speaker names by their references', async () => {
  const { app, c, wav } = await setup();
  try {
    const answer = await app.inject({ method: 'POST', url: '/v1/audio/transcriptions', ...multipart([{ name: 'file', value: wav, filename: 'a.wav' }, { name: 'response_format', value: 'diarized_json' }, { name: 'temperature_inc', value: '0' }, { name: 'language', value: 'en' }]) });
    assert.equal(answer.statusCode, 200, answer.body);
    const body = answer.json() as { task: string; text: string; segments: { type: string; id: string; start: number; end: number; speaker: string }[] };
    assert.equal(body.task, 'transcribe');
    assert.ok(body.segments.length > 0);
    assert.ok(body.segments.every((s) => s.type === 'transcript.text.segment' && /^seg_\d+$/.test(s.id)));
    // OpenAI's labels: A, B, ... in order of the speakers' first turns
    assert.ok(body.segments.every((s) => /^([A-Z]|unknown)$/.test(s.speaker)), body.segments.map((s) => s.speaker).join(','));
    assert.ok(body.segments.some((s) => s.speaker !== 'unknown'));
    const turn = (speaker: string) => {
      const t = c.truth.find((x) => x.speaker === speaker)!;
      // 1.5 s of 16-bit audio: under the 64 KiB field limit once in base64
      const clip = c.samples.subarray(Math.round(t.start * 16000), Math.round(Math.min(t.end, t.start + 1.5) * 16000));
      return `data:audio/wav;base64,${Buffer.from(writeWav({ sampleRate: 16000, channels: 1, encoding: 's16' }, Int16Array.from(clip, (v) => Math.round(v * 32767)))).toString('base64')}`;
    };
    const named = await app.inject({
      method: 'POST',
      url: '/v1/audio/transcriptions',
      ...multipart([
        { name: 'file', value: wav, filename: 'a.wav' },
        { name: 'response_format', value: 'diarized_json' },
        { name: 'temperature_inc', value: '0' },
        { name: 'language', value: 'en' },
        { name: 'known_speaker_names[]', value: 'agent' },
        { name: 'known_speaker_references[]', value: turn('S0') },
      ]),
    });
    assert.equal(named.statusCode, 200, named.body);
    const speakers = new Set((named.json() as typeof body).segments.map((s) => s.speaker));
    assert.ok(speakers.has('agent'), [...speakers].join(','));
    const mismatch = await app.inject({ method: 'POST', url: '/v1/audio/transcriptions', ...multipart([{ name: 'file', value: wav, filename: 'a.wav' }, { name: 'response_format', value: 'json' }, { name: 'known_speaker_names[]', value: 'x' }]) });
    assert.equal(mismatch.statusCode, 400);
    assert.match(mismatch.body, /diarized_json/);
  } finally {
    await app.close();
  }
});

test('diarized_json with stream: a transcript.text.segment event per decoded segment, equal to the answer without stream', async () => {
  const { app, wav } = await setup();
  try {
    const fields = [{ name: 'file', value: wav, filename: 'a.wav' }, { name: 'response_format', value: 'diarized_json' }, { name: 'temperature_inc', value: '0' }, { name: 'language', value: 'en' }];
    const whole = await app.inject({ method: 'POST', url: '/v1/audio/transcriptions', ...multipart(fields) });
    assert.equal(whole.statusCode, 200, whole.body);
    const expected = whole.json() as { text: string; segments: unknown[] };
    const streamed = await app.inject({ method: 'POST', url: '/v1/audio/transcriptions', ...multipart([...fields, { name: 'stream', value: 'true' }]) });
    assert.equal(streamed.statusCode, 200, streamed.body);
    assert.match(String(streamed.headers['content-type']), /^text\/event-stream/);
    const events = streamed.body.split('\n\n').filter(Boolean).map((chunk) => JSON.parse(chunk.replace(/^data: /, '')) as { type: string; text?: string });
    assert.deepEqual(events.filter((e) => e.type === 'transcript.text.segment'), expected.segments);
    assert.equal(events.filter((e) => e.type === 'transcript.text.delta').length, expected.segments.length);
    const done = events.at(-1)!;
    assert.equal(done.type, 'transcript.text.done');
    assert.equal(done.text, expected.text);
  } finally {
    await app.close();
  }
});
