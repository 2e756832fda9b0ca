import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignSpeakers, diarize, formatDiarization, loadDiarizer, speakerAt, type Diarization } from '../../src/speakers/index.js';
import { diarizationError } from '../../src/speakers/der.js';
import { resolveSpeakerModel } from '../../src/speakers/models.js';
import { ensureSpeakerModels } from '../models/speakers.js';
import { conversation, EQUALITY_CASES } from './conversations.js';

test('diarize(): speakers in order of first turn, turns sorted, known speakers named by their voice', async () => {
  const models = await ensureSpeakerModels();
  const c = await conversation(EQUALITY_CASES[3]); // 2 speakers
  const diarizer = await loadDiarizer({ segmentationModel: models.segmentationDir, embeddingModel: models.wespeaker });
  const result = await diarizer.diarize(c.samples, { numSpeakers: 2 });
  assert.deepEqual(result.speakers, ['SPEAKER_00', 'SPEAKER_01']);
  assert.equal(result.segments[0].speaker, 'SPEAKER_00');
  for (let i = 1; i < result.segments.length; i++) assert.ok(result.segments[i].start >= result.segments[i - 1].start);
  assert.ok(diarizationError(c.truth, result.segments).der < 0.5);
  // the one-call form loads the same models and gives the same answer
  assert.deepEqual(await diarize(c.samples, { segmentationModel: models.segmentation, embeddingModel: models.wespeaker, numSpeakers: 2 }), result);
  // each speaker's first turn as a voice sample: the clusters get those names
  const firstTurn = (speaker: string) => {
    const t = c.truth.find((x) => x.speaker === speaker);
    if (!t) throw new Error(`no turn of ${speaker}`);
    return c.samples.subarray(Math.round(t.start * 16000), Math.round(t.end * 16000));
  };
  const named = await diarizer.diarize(c.samples, { numSpeakers: 2, knownSpeakers: [{ name: 'bob', audio: firstTurn('S1') }, { name: 'alice', audio: firstTurn('S0') }] });
  assert.deepEqual(new Set(named.speakers), new Set(['alice', 'bob']));
  const truthNamed = c.truth.map((t) => ({ ...t, speaker: t.speaker === 'S0' ? 'alice' : 'bob' }));
  const der = diarizationError(truthNamed, named.segments);
  assert.equal(der.mapping.get('alice'), 'alice');
  assert.equal(der.mapping.get('bob'), 'bob');
  await assert.rejects(diarizer.diarize(c.samples, { minSpeakers: 3, maxSpeakers: 2 }), /minSpeakers/);
});

test('speaker model references: a file, a folder, an alias of the wrong kind, a variant the export lacks', async () => {
  const models = await ensureSpeakerModels();
  assert.equal(await resolveSpeakerModel(models.wespeaker, 'embedding'), models.wespeaker);
  assert.equal(await resolveSpeakerModel(models.segmentationDir, 'segmentation'), models.segmentation);
  await assert.rejects(resolveSpeakerModel('campplus', 'segmentation'), /embedding model, not a segmentation model/);
  await assert.rejects(resolveSpeakerModel('wespeaker-resnet34', 'embedding', { variant: 'fp16' }), /fp32/);
  await assert.rejects(resolveSpeakerModel('campplus', 'embedding', { hub: { offline: true, cacheDir: models.dir } }), /offline|pull/i);
});

const DIARIZATION: Diarization = {
  speakers: ['SPEAKER_00', 'SPEAKER_01'],
  segments: [
    { start: 0.5, end: 4, speaker: 'SPEAKER_00' },
    { start: 3.5, end: 8.25, speaker: 'SPEAKER_01' },
  ],
};

test('assignSpeakers: per word by overlap, per segment by the most overlapping speech (WhisperX)', () => {
  const transcript = {
    text: 'hi there how are you',
    segments: [
      { start: 0, end: 4.2, text: 'hi there', words: [{ word: 'hi', start: 0.6, end: 1 }, { word: 'there', start: 3.6, end: 4.2 }, { word: 'x', start: 9, end: 9.5 }] },
      { start: 3.8, end: 8, text: 'how are you' },
      { start: 9, end: 10, text: '(silence)' },
    ],
  };
  const out = assignSpeakers(transcript, DIARIZATION);
  assert.equal(out.text, transcript.text);
  assert.equal(out.segments[0].speaker, 'SPEAKER_00');
  assert.deepEqual(out.segments[0].words?.map((w) => w.speaker), ['SPEAKER_00', 'SPEAKER_01', undefined]);
  assert.equal(out.segments[1].speaker, 'SPEAKER_01');
  assert.equal(out.segments[2].speaker, undefined);
  assert.equal(speakerAt(DIARIZATION, 3.5, 4), 'SPEAKER_00'); // a tie: the first label
});

test('formats: RTTM lines, JSON, text', () => {
  assert.equal(
    formatDiarization(DIARIZATION, 'rttm', 'my file'),
    'SPEAKER my_file 1 0.500 3.500 <NA> <NA> SPEAKER_00 <NA> <NA>\nSPEAKER my_file 1 3.500 4.750 <NA> <NA> SPEAKER_01 <NA> <NA>\n',
  );
  assert.deepEqual(JSON.parse(formatDiarization(DIARIZATION, 'json')), DIARIZATION);
  assert.equal(formatDiarization(DIARIZATION, 'txt'), '0.500 4.000 SPEAKER_00\n3.500 8.250 SPEAKER_01\n');
});
