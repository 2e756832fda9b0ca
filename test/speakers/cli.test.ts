import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { writeWav } from '../audio/wav-writer.js';
import { ensureSpeakerModels } from '../models/speakers.js';
import { conversation, EQUALITY_CASES } from './conversations.js';
import { loadDiarizer, formatDiarization } from '../../src/speakers/index.js';

async function fixture() {
  const models = await ensureSpeakerModels();
  const c = await conversation(EQUALITY_CASES[0]);
  const dir = mkdtempSync(join(tmpdir(), 'moxing-diarize-cli-'));
  const wav = join(dir, 'talk.wav');
  writeFileSync(wav, writeWav({ sampleRate: 16000, channels: 1, encoding: 'f32' }, c.samples));
  const modelArgs = ['--segmentation-model', models.segmentationDir, '--embedding-model', models.wespeaker];
  return { models, c, dir, wav, modelArgs };
}

test('moxing diarize prints RTTM equal to the library\'s, and writes json/txt files with -o', async () => {
  const { models, c, dir, wav, modelArgs } = await fixture();
  const run = await runMoxingInProcess(['diarize', wav, ...modelArgs, '--num-speakers', '2']);
  assert.equal(run.code, 0, run.stderr);
  const diarizer = await loadDiarizer({ segmentationModel: models.segmentation, embeddingModel: models.wespeaker });
  const expected = await diarizer.diarize(c.samples, { numSpeakers: 2 });
  assert.equal(run.stdout, formatDiarization(expected, 'rttm', 'talk'));
  assert.match(run.stderr, /2 speakers/);
  const out = join(dir, 'out');
  const json = await runMoxingInProcess(['diarize', wav, ...modelArgs, '--num-speakers', '2', '-f', 'json', '-o', out, '--min-duration-on', '0.5']);
  assert.equal(json.code, 0, json.stderr);
  const written = JSON.parse(readFileSync(join(out, 'talk.json'), 'utf8')) as { speakers: string[]; segments: { start: number; end: number }[] };
  assert.deepEqual(written.speakers, ['SPEAKER_00', 'SPEAKER_01']);
  assert.ok(written.segments.every((s) => s.end - s.start > 0.5));
});

test('moxing diarize: bad flags and bad input fail clearly, nothing half-written', async () => {
  const { dir, wav, modelArgs } = await fixture();
  const bad = await runMoxingInProcess(['diarize', wav, ...modelArgs, '-f', 'csv']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--output-format must be one of rttm, json, txt/);
  const zero = await runMoxingInProcess(['diarize', wav, ...modelArgs, '--num-speakers', '0']);
  assert.notEqual(zero.code, 0);
  assert.match(zero.stderr, /--num-speakers must be a whole number from 1/);
  const notAudio = join(dir, 'notes.wav');
  writeFileSync(notAudio, 'this is not audio');
  const out = join(dir, 'partial');
  const failed = await runMoxingInProcess(['diarize', wav, notAudio, ...modelArgs, '-o', out]);
  assert.notEqual(failed.code, 0);
  assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'no output for the good file either');
  const wrongModel = await runMoxingInProcess(['diarize', wav, '--segmentation-model', modelArgs[3], '--embedding-model', modelArgs[3]]);
  assert.notEqual(wrongModel.code, 0);
  assert.match(wrongModel.stderr, /metadata/);
});
