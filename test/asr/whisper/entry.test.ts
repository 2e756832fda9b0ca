import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { transcribe, transcribeStream, type Segment, type TranscribeProgress } from '../../../src/asr/index.js';
import { isMoxingError } from '../../../src/errors.js';
import { FIXTURE_DIR, SHARED } from './fidelity.js';

const CLIP = join(SHARED, 'audio', 'dev', 'single', 'en_005.wav');
const OPTIONS = { model: FIXTURE_DIR, temperature: 0, runtime: { intraOpThreads: 1 } };

test('transcribe(path, { model: folder }) resolves the model, reads the file and matches openai', async () => {
  const oracle = JSON.parse(readFileSync(join(FIXTURE_DIR, 'oracle-dev', 'single', 'en_005.json'), 'utf8'));
  const progress: TranscribeProgress[] = [];
  const languages: string[] = [];
  const result = await transcribe(CLIP, { ...OPTIONS, onProgress: (p) => progress.push(p), onLanguage: (l) => languages.push(l) });
  assert.equal(result.text, oracle.text);
  assert.equal(result.language, oracle.language);
  assert.deepEqual(languages, [oracle.language]);
  assert.ok(result.duration! > 0);
  assert.deepEqual(progress.at(-1), { doneSeconds: result.duration, totalSeconds: result.duration });
  assert.ok(Math.abs(Object.values(result.languageProbs!).reduce((s, p) => s + p, 0) - 1) < 1e-6);
});

test('transcribeStream yields the segments as they come, then returns the whole result', async () => {
  const stream = transcribeStream(readFileSync(CLIP), OPTIONS);
  const seen: Segment[] = [];
  let next = await stream.next();
  while (!next.done) {
    seen.push(next.value);
    next = await stream.next();
  }
  assert.ok(seen.length > 0);
  assert.deepEqual(seen, next.value.segments);
  assert.deepEqual(seen.map((s) => s.id), seen.map((_, i) => i));
  for (const s of seen) assert.ok(s.start <= s.end && s.end <= 30, `segment ${s.id} times ${s.start}-${s.end}`);
});

test('entry points fail with coded errors: bad options, unknown model, missing file', async () => {
  await assert.rejects(transcribe(CLIP, { ...OPTIONS, temperature: [] }), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /temperature/.test(e.message));
  await assert.rejects(transcribe(CLIP, { ...OPTIONS, language: 'klingon' }), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /klingon/.test(e.message));
  await assert.rejects(transcribe(CLIP, { ...OPTIONS, model: 'no-such-model-alias' }), (e) => isMoxingError(e, 'MODEL_UNKNOWN'));
  await assert.rejects(transcribe(join(SHARED, 'missing.wav'), OPTIONS), (e) => isMoxingError(e));
});
