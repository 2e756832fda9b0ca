/**
 * A job's run continues from its last checkpoint: a run stopped after its first window (as a crash or a
 * shutdown stops it), then run again on the same store, decodes only the windows after the checkpoint and gives
 * the bytes of an uninterrupted run. The checkpoints live in the data folder (JobFiles), written durably.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { WhisperModel } from '../../src/asr/whisper/index.js';
import { JobFiles } from '../../src/jobs/files.js';
import { runTranscription, type RunContext } from '../../src/jobs/runner.js';
import type { JobRequest } from '../../src/jobs/types.js';
import type { UseWhisper } from '../../src/server/speech-models.js';
import { renderTranscript } from '../../src/formats/index.js';
import { LONG_CLIPS, MODEL, tempDir } from './helpers.js';

test('a run stopped after a window continues from its checkpoint, with the uninterrupted result', async () => {
  const tmp = tempDir('moxing-resume-');
  const model = await WhisperModel.load(MODEL);
  try {
    const useModel: UseWhisper = (_ref, _timestamped, fn) => fn(model);
    const request: JobRequest = { model: MODEL, task: 'transcribe', fields: { granularities: [], temperature: 0, temperature_inc: 0 }, baseUrl: 'http://x' };
    const files = new JobFiles(tmp.dir);
    const id = 'job_AAAAAAAAAAAAAAAAAAAAAA';
    const progress: number[][] = [[], [], []];
    const context = (run: number, signal: AbortSignal): RunContext => ({ useModel, signal, checkpoints: files.checkpoints(id), onProgress: (p) => progress[run].push(p.audioSecondsDone) });

    const uninterrupted = await runTranscription(request, LONG_CLIPS[0], context(0, new AbortController().signal));
    await files.removeUpload(id); // the uninterrupted run's checkpoints go: the next run starts afresh

    // Run 1: stopped as soon as its first checkpoint is on disk (the abort takes effect at the next window).
    const stop = new AbortController();
    const watch = setInterval(() => existsSync(files.checkpointPath(id)) && stop.abort(new Error('killed')), 5);
    await assert.rejects(runTranscription(request, LONG_CLIPS[0], context(1, stop.signal)), /killed/);
    clearInterval(watch);
    const checkpoint = await files.checkpoints(id).read();
    assert.ok(checkpoint && checkpoint.seek > 0 && checkpoint.segments.length > 0, 'a checkpoint after the first window');

    // Run 2 continues: its first progress is where the checkpoint stands, and it decodes fewer windows.
    const resumed = await runTranscription(request, LONG_CLIPS[0], context(2, new AbortController().signal));
    assert.equal(progress[2][0], checkpoint.seek / 100);
    assert.ok(progress[2].length < progress[0].length, `${progress[2].length} progress reports against ${progress[0].length}`);
    assert.deepEqual(resumed, uninterrupted);
    for (const format of ['srt', 'tsv', 'json'] as const) assert.equal(renderTranscript(resumed, format), renderTranscript(uninterrupted, format));
    await files.removeUpload(id);
    assert.ok(!existsSync(files.checkpointPath(id)), 'a finished job\'s checkpoint is removed with its audio');
  } finally {
    await model.close();
    tmp.cleanup();
  }
});
