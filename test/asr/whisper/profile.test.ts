/**
 * The decode profile (`npm run bench:whisper -- --profile`): a profiled decode takes the same tokens and
 * log-probabilities as a plain one (the profiled loop is a second copy of the token loop), and its counters
 * add up to the work done.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DecodingTask, WhisperModel } from '../../../src/asr/index.js';
import { emptyDecodeProfile, setDecodeProfile } from '../../../src/asr/whisper/profile.js';
import { float32 } from '../../../src/runtime/index.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../src/audio/index.js';
import { TINY_WHISPER, ensureWhisperModel } from '../../models/index.js';

const CLIP = join(process.cwd(), '..', 'shared', 'audio', 'dev', 'single', 'en_001.wav');

test('a profiled decode == a plain decode, and the profile counts its steps, tokens and first passes', async () => {
  const model = await WhisperModel.load(await ensureWhisperModel(TINY_WHISPER), { runtime: { intraOpThreads: 1 } });
  const mel = logMelSpectrogram(padOrTrim(await decodeAudio(CLIP)), 80).data;
  const one = await model.encode(mel);
  // Two windows: the clip and a quieter copy of its features, so the rows differ.
  const data = one.tensor.data as Float32Array;
  const features = { batch: 2, tensor: float32(Float32Array.from([...data, ...data.map((v) => v * 0.5)]), [2, ...one.tensor.dims.slice(1)]) };
  for (const options of [
    { language: 'en', sampleLen: 12 },
    { language: 'en', sampleLen: 12, withoutTimestamps: true, prompt: [440, 441, 442] },
    { language: 'en', sampleLen: 8, beamSize: 2 },
  ]) {
    const plain = await new DecodingTask(model, options).run(features);
    const profile = emptyDecodeProfile();
    setDecodeProfile(profile);
    let profiled;
    try {
      profiled = await new DecodingTask(model, options).run(features);
    } finally {
      setDecodeProfile(undefined);
    }
    assert.deepEqual(profiled.map((r) => r.tokens), plain.map((r) => r.tokens), JSON.stringify(options));
    assert.deepEqual(profiled.map((r) => r.avgLogprob), plain.map((r) => r.avgLogprob));
    const task = new DecodingTask(model, options);
    assert.equal(profile.prefills, 1);
    assert.equal(profile.prefillTokens, 2 * task.initialTokens.length);
    // One step per loop iteration after the first; tokens count every live row of every iteration.
    assert.ok(profile.steps >= 1 && profile.steps <= options.sampleLen - 1, `steps ${profile.steps}`);
    assert.ok(profile.tokens >= profile.steps + 1 && profile.tokens <= (profile.steps + 1) * 2 * (options.beamSize ?? 1));
    for (const key of ['ortMs', 'kvMs', 'suppressMs', 'samplingMs', 'prefillMs'] as const) assert.ok(profile[key] > 0, key);
    assert.equal(profile.timestampMs > 0, options.withoutTimestamps !== true);
  }
});
