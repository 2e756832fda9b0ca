/**
 * onCheckpoint / resumeFrom: a sequential transcription continued from any window's checkpoint (as stored: through
 * JSON) gives exactly the uninterrupted result, and yields only the segments after the checkpoint. Greedy with
 * word timestamps (the last-speech state), and the temperature ladder with a seed (the sampler's draws replayed).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { decodeAudio } from '../../../src/audio/index.js';
import { transcribeStream, WhisperModel, type TranscribeCheckpoint, type TranscribeOptions } from '../../../src/asr/whisper/index.js';
import type { Segment, TranscriptionResult } from '../../../src/asr/types.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');

async function run(samples: Float32Array, options: TranscribeOptions): Promise<{ yielded: Segment[]; result: TranscriptionResult; checkpoints: TranscribeCheckpoint[] }> {
  const checkpoints: TranscribeCheckpoint[] = [];
  const stream = transcribeStream(samples, { ...options, onCheckpoint: (c) => checkpoints.push(JSON.parse(JSON.stringify(c)) as TranscribeCheckpoint) });
  const yielded: Segment[] = [];
  for (;;) {
    const next = await stream.next();
    if (next.done) return { yielded, result: next.value, checkpoints };
    yielded.push(next.value);
  }
}

describe('resuming a transcription from a checkpoint', () => {
  let model: WhisperModel;
  let samples: Float32Array;
  before(async () => {
    model = await WhisperModel.load(MODEL, { timestamped: true });
    samples = await decodeAudio(join(SHARED, 'audio/dev/long/en_long_03.wav'));
  });

  for (const [name, options] of [
    ['greedy, word timestamps', { temperature: 0, wordTimestamps: true }],
    ['the temperature ladder, seeded', { seed: 11, compressionRatioThreshold: 1.2 }],
  ] as const) {
    test(`${name}: from every window's checkpoint, the uninterrupted result`, async () => {
      const full = await run(samples, { ...options, model });
      assert.ok(full.checkpoints.length >= 3, `${full.checkpoints.length} windows`);
      if (name.includes('seeded')) assert.ok(full.checkpoints.at(-1)!.randomDraws > 0, 'the ladder sampled: the draws matter');
      for (const checkpoint of full.checkpoints.slice(0, -1)) {
        const resumed = await run(samples, { ...options, model, resumeFrom: checkpoint });
        assert.deepEqual(resumed.result, full.result, `resumed at frame ${checkpoint.seek}`);
        assert.deepEqual(resumed.yielded, full.result.segments.slice(checkpoint.segments.length));
        // Its own checkpoints continue the uninterrupted run's.
        assert.deepEqual(resumed.checkpoints, full.checkpoints.slice(full.checkpoints.indexOf(checkpoint) + 1));
      }
    });
  }

  test('a checkpoint of other audio, another prompt or the batched pipeline is refused', async () => {
    const { checkpoints } = await run(samples, { model, temperature: 0 });
    const other = samples.subarray(0, samples.length - 16_000);
    await assert.rejects(run(other, { model, temperature: 0, resumeFrom: checkpoints[0] }), /other audio/);
    await assert.rejects(run(samples, { model, temperature: 0, initialPrompt: 'Names.', resumeFrom: checkpoints[0] }), /initialPrompt/);
    await assert.rejects(run(samples, { model, temperature: 0, vad: true, resumeFrom: checkpoints[0] } as TranscribeOptions), /sequential/);
  });
});
