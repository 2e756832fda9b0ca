/**
 * Cross-request batching (DecodeScheduler): windows of concurrent transcriptions decoded in shared batches
 * give each window exactly what decoding it alone gives, with the fixture model and real dev clips; whole
 * transcriptions through both pipelines are in scheduler.slow.test.ts.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DecodeScheduler, WhisperModel, decodeFeatures, resolveTranscribeOptions, type DecodingContext } from '../../../../src/asr/whisper/index.js';
import { windowDecodingOptions } from '../../../../src/asr/whisper/transcribe-options.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../../src/audio/index.js';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../../../models/index.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('asr/whisper/batched/scheduler', () => {
  const SHARED = join(process.cwd(), '..', 'shared');
  const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
  const CLIPS = ['en_000', 'de_010', 'es_020', 'en_010'].map((name) => join(SHARED, 'audio', 'dev', 'single', `${name}.wav`));
  let model: WhisperModel;
  before(async () => {
    model = await WhisperModel.load(MODEL, { runtime: { intraOpThreads: 1 } });
  });

  async function firstWindow(path: string) {
    const samples = await decodeAudio(path);
    return model.encode(logMelSpectrogram(padOrTrim(samples), 80).data);
  }

  test('windows of concurrent requests share batches; each gets the tokens of decoding it alone', async () => {
    const features = await Promise.all(CLIPS.map(firstWindow));
    const languages = ['en', 'de', 'en', 'de'];
    const alone = await Promise.all(features.map(async (f, i) => (await decodeFeatures(model, f, { language: languages[i], sampleLen: 24 }))[0]));
    // Gathering never times out here: a batch leaves when it holds maxBatch windows of one decoding setup.
    const scheduler = new DecodeScheduler({ maxBatch: 2, gatherMs: 600_000 });
    const settings = resolveTranscribeOptions({ temperature: 0, sampleLen: 24 });
    const together = await Promise.all(features.map(async (f, i) => {
      const [result] = await scheduler.decode(model, f, (t) => windowDecodingOptions(settings, languages[i], t, undefined), settings, Math.random);
      return result;
    }));
    assert.deepEqual(scheduler.stats, { batches: 2, windows: 4, requests: 4, largestBatch: 2 });
    together.forEach((r, i) => {
      assert.deepEqual(r.tokens, alone[i].tokens, `request ${i}`);
      assert.equal(r.text, alone[i].text);
      assert.equal(r.language, languages[i]);
      assert.ok(Math.abs(r.avgLogprob - alone[i].avgLogprob) < 1e-4);
      assert.ok(Math.abs(r.noSpeechProb - alone[i].noSpeechProb) < 1e-4);
    });
  });

  test('windows arriving while a batch of their kind decodes gather and leave together when it ends', async () => {
    const features = await Promise.all(CLIPS.map(firstWindow));
    const alone = await Promise.all(features.map(async (f) => (await decodeFeatures(model, f, { language: 'en', sampleLen: 12 }))[0]));
    // The first batch's decoding is held at a gate until the others have arrived and their gathering time is over.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let gated = true;
    const held: DecodingContext = {
      tokenizer: model.tokenizer,
      nTextCtx: model.nTextCtx,
      nAudioCtx: model.nAudioCtx,
      createRunner(f, rows) {
        const runner = model.createRunner(f, rows);
        if (!gated) return runner;
        gated = false;
        const prefill = runner.prefill.bind(runner);
        runner.prefill = async (...a) => {
          await gate;
          return prefill(...a);
        };
        return runner;
      },
    };
    const scheduler = new DecodeScheduler({ maxBatch: 16, gatherMs: 0 });
    const settings = resolveTranscribeOptions({ temperature: 0, sampleLen: 12, language: 'en' });
    const decode = (f: (typeof features)[number]) => scheduler.decode(held, f, (t) => windowDecodingOptions(settings, 'en', t, undefined), settings, Math.random);
    const first = decode(features[0]);
    await new Promise((r) => setTimeout(r, 10));
    const rest = features.slice(1).map(decode);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(scheduler.stats.batches, 1, 'the late windows wait for the batch in flight');
    open();
    const results = [await first, ...(await Promise.all(rest))].map(([r]) => r.tokens);
    assert.deepEqual(scheduler.stats, { batches: 2, windows: 4, requests: 4, largestBatch: 3 });
    assert.deepEqual(results, alone.map((r) => r.tokens));
  });

  test('a seeded request, and one that fills a batch by itself, are decoded alone at once', async () => {
    const features = await firstWindow(CLIPS[0]);
    const scheduler = new DecodeScheduler({ maxBatch: 1, gatherMs: 600_000 });
    const settings = resolveTranscribeOptions({ temperature: 0, sampleLen: 8, language: 'en' });
    await scheduler.decode(model, features, (t) => windowDecodingOptions(settings, 'en', t, undefined), settings, Math.random);
    const seeded = resolveTranscribeOptions({ temperature: 0, sampleLen: 8, language: 'en', seed: 3 });
    const wide = new DecodeScheduler({ maxBatch: 4, gatherMs: 600_000 });
    await wide.decode(model, features, (t) => windowDecodingOptions(seeded, 'en', t, undefined), seeded, Math.random);
    assert.equal(scheduler.stats.batches, 1);
    assert.equal(wide.stats.batches, 1);
  });

  test('a failing batch fails every request in it', async () => {
    const features = await firstWindow(CLIPS[0]);
    const broken: DecodingContext = {
      tokenizer: model.tokenizer,
      nTextCtx: model.nTextCtx,
      nAudioCtx: model.nAudioCtx,
      createRunner() {
        throw new Error('decoder session gone');
      },
    };
    const scheduler = new DecodeScheduler({ maxBatch: 3, gatherMs: 600_000 });
    const settings = resolveTranscribeOptions({ temperature: 0, language: 'en' });
    const answers = [0, 1, 2].map(() => scheduler.decode(broken, features, (t) => windowDecodingOptions(settings, 'en', t, undefined), settings, Math.random));
    for (const answer of answers) await assert.rejects(answer, /decoder session gone/);
    assert.throws(() => new DecodeScheduler({ maxBatch: 0 }), /maxBatch/);
  });
});
