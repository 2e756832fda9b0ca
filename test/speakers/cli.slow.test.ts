/** `moxing diarize` and `moxing transcribe --diarize` in process (slow tier: each case runs both pyannote-shaped models over whole conversations); the library and HTTP tests are in diarize.test.ts and server.test.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { writeWav } from '../audio/wav-writer.js';
import { ensureSpeakerModels } from '../models/speakers.js';
import { conversation, EQUALITY_CASES } from './conversations.js';
import { loadDiarizer, formatDiarization } from '../../src/speakers/index.js';
import { scratchDir } from '../helpers/scratch.js';

async function fixture() {
  const models = await ensureSpeakerModels();
  const c = await conversation(EQUALITY_CASES[0]);
  const dir = scratchDir('moxing-diarize-cli-');
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

test('moxing transcribe --diarize: speakers per segment and word in json, [SPEAKER_00]: prefixes in srt, vtt, txt and tsv', async () => {
  const { models, c, dir, wav, modelArgs } = await fixture();
  const whisper = new URL('../../../shared/models/whisper-tiny-random', import.meta.url).pathname;
  const out = join(dir, 'transcribed');
  const run = await runMoxingInProcess(
    ['transcribe', wav, '-m', whisper, '-o', out, '-f', 'all', '--word-timestamps', '--diarize', '--num-speakers', '2', ...modelArgs, '--no-verbose', '--temperature-increment-on-fallback', '0', '--language', 'en'],
    { MOXING_OFFLINE: '1' },
  );
  assert.equal(run.code, 0, run.stderr);
  const json = JSON.parse(readFileSync(join(out, 'talk.json'), 'utf8')) as { segments: { start: number; end: number; speaker?: string; text: string; words: { start: number; end: number; speaker?: string }[] }[] };
  assert.ok(json.segments.length > 0);
  const diarization = await (await loadDiarizer({ segmentationModel: models.segmentation, embeddingModel: models.wespeaker })).diarize(c.samples, { numSpeakers: 2 });
  const { speakerAt } = await import('../../src/speakers/index.js');
  for (const s of json.segments) {
    assert.equal(s.speaker, speakerAt(diarization, s.start, s.end));
    for (const w of s.words) assert.equal(w.speaker, speakerAt(diarization, w.start, w.end));
  }
  const labelled = json.segments.filter((s) => s.speaker !== undefined);
  assert.ok(labelled.length > 0, 'some segment has a speaker');
  const txt = readFileSync(join(out, 'talk.txt'), 'utf8').split('\n');
  json.segments.forEach((s, i) => assert.ok(txt[i].startsWith(s.speaker ? `[${s.speaker}]: ` : ''), txt[i]));
  assert.match(readFileSync(join(out, 'talk.srt'), 'utf8'), /\n\[SPEAKER_0[01]\]: /);
  assert.match(readFileSync(join(out, 'talk.vtt'), 'utf8'), /\n\[SPEAKER_0[01]\]: /);
  assert.match(readFileSync(join(out, 'talk.tsv'), 'utf8'), /\t\[SPEAKER_0[01]\]: /);
});
