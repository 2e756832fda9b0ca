/**
 * The real DecoderRunner over generated random-weight Whisper exports (test/models): both decoder layouts,
 * the KV cache, beam fan-out and row dropping, batching, English-only and 128-mel vocabularies.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DecodingTask, WhisperModel, transcribe, type AudioFeatures, type DecoderRunner } from '../../../src/asr/index.js';
import { decodeAudio, logMelSpectrogram, padOrTrim } from '../../../src/audio/index.js';
import { isMoxingError } from '../../../src/errors.js';
import { TINY_WHISPER, ensureWhisperModel, type WhisperModelSpec } from '../../models/index.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('asr/whisper/equivalence', () => {
  const CLIPS = join(process.cwd(), '..', 'shared', 'audio', 'dev', 'single');
  const TOLERANCE = 1e-4;

  function load(dir: string, layout: 'merged' | 'split'): Promise<WhisperModel> {
    const onnx = join(dir, 'onnx');
    const decoder =
      layout === 'merged'
        ? { kind: 'merged' as const, path: join(onnx, 'decoder_model_merged.onnx'), timestamped: false }
        : { kind: 'split' as const, decoder: join(onnx, 'decoder_model.onnx'), decoderWithPast: join(onnx, 'decoder_with_past_model.onnx') };
    return WhisperModel.fromFiles({ dir, encoder: join(onnx, 'encoder_model.onnx'), decoder }, { intraOpThreads: 1 });
  }

  async function melOf(clip: string, nMels: 80 | 128 = 80): Promise<Float32Array> {
    return logMelSpectrogram(padOrTrim(await decodeAudio(join(CLIPS, clip))), nMels).data;
  }

  function maxAbsDiff(a: Float32Array, b: Float32Array): number {
    assert.equal(a.length, b.length);
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    return max;
  }

  function argmax(row: Float32Array): number {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best;
  }

  const SOT_SEQUENCE = [50258, 50259, 50359];
  let merged: WhisperModel;
  let split: WhisperModel;
  let features: AudioFeatures;

  before(async () => {
    const dir = await ensureWhisperModel(TINY_WHISPER);
    [merged, split] = await Promise.all([load(dir, 'merged'), load(dir, 'split')]);
    features = await merged.encode(await melOf('en_001.wav'));
  });

  /** Greedy steps without filters, returning each step's logits. */
  async function steps(runner: DecoderRunner, count: number): Promise<{ tokens: number[]; logits: Float32Array[] }> {
    const tokens = [...SOT_SEQUENCE];
    const logits = [(await runner.prefill([tokens])).last];
    for (let i = 0; i < count; i++) {
      tokens.push(argmax(logits[logits.length - 1]));
      logits.push(await runner.step([tokens[tokens.length - 1]]));
    }
    return { tokens, logits };
  }

  test('merged layout == split layout: same tokens, logits within 1e-4 at every step', async () => {
    const a = await steps(merged.createRunner(features, [0]), 24);
    const b = await steps(split.createRunner(features, [0]), 24);
    assert.deepEqual(a.tokens, b.tokens);
    const worst = Math.max(...a.logits.map((l, i) => maxAbsDiff(l, b.logits[i])));
    assert.ok(worst <= TOLERANCE, `max |merged - split| = ${worst}`);
    const [ra] = await new DecodingTask(merged, { language: 'en', sampleLen: 40 }).run(features);
    const [rb] = await new DecodingTask(split, { language: 'en', sampleLen: 40 }).run(features);
    assert.deepEqual(ra.tokens, rb.tokens);
    assert.ok(Math.abs(ra.avgLogprob - rb.avgLogprob) < 1e-4);
  });

  test('cached decode == full recompute: logits within 1e-4 at every step, both layouts', async () => {
    for (const model of [merged, split]) {
      const cached = await steps(model.createRunner(features, [0]), 16);
      for (let i = 4; i < cached.tokens.length; i += 3) {
        const full = await model.createRunner(features, [0]).prefill([cached.tokens.slice(0, i + 1)]);
        const diff = maxAbsDiff(full.last, cached.logits[i + 1 - SOT_SEQUENCE.length]);
        assert.ok(diff <= TOLERANCE, `${model.decoder.layout}: step ${i}: max |cached - full| = ${diff}`);
      }
    }
  });

  test('runner reorder: fanned-out, swapped and dropped rows keep their own caches', async () => {
    for (const model of [merged, split]) {
      const runner = model.createRunner(features, [0]);
      await runner.prefill([SOT_SEQUENCE]);
      runner.reorder([0, 0]);
      const [x, y] = [50364, 50400];
      await runner.step([x, y]);
      runner.reorder([1, 0]);
      const swapped = await runner.step([x, x]);
      runner.reorder([0]);
      const dropped = await runner.step([y]);
      const vocab = runner.vocabSize;
      const alone = async (sequence: number[]) => (await model.createRunner(features, [0]).prefill([sequence])).last;
      assert.ok(maxAbsDiff(swapped.subarray(0, vocab), await alone([...SOT_SEQUENCE, y, x])) <= TOLERANCE);
      assert.ok(maxAbsDiff(swapped.subarray(vocab), await alone([...SOT_SEQUENCE, x, x])) <= TOLERANCE);
      assert.ok(maxAbsDiff(dropped, await alone([...SOT_SEQUENCE, y, x, y])) <= TOLERANCE);
    }
  });

  test('beam search with one beam == greedy on the real decoder', async () => {
    const [greedy] = await new DecodingTask(merged, { language: 'en', sampleLen: 30 }).run(features);
    const [beam] = await new DecodingTask(merged, { language: 'en', sampleLen: 30, beamSize: 1 }).run(features);
    assert.deepEqual(beam.tokens, greedy.tokens);
    assert.ok(Math.abs(beam.avgLogprob - greedy.avgLogprob) < 1e-6);
    const [wide] = await new DecodingTask(merged, { language: 'en', sampleLen: 30, beamSize: 3, patience: 2 }).run(features);
    assert.ok(wide.tokens.length > 0);
  });

  test('a batch decodes each window as a single run does (encoder and decoder)', async () => {
    const [m0, m1] = await Promise.all([melOf('en_002.wav'), melOf('de_003.wav')]);
    const both = new Float32Array(m0.length * 2);
    both.set(m0);
    both.set(m1, m0.length);
    const batch = await merged.encode(both, 2);
    const singles = [await merged.encode(m0), await merged.encode(m1)];
    const rowSize = (batch.tensor.data as Float32Array).length / 2;
    singles.forEach((s, i) => {
      const row = (batch.tensor.data as Float32Array).subarray(i * rowSize, (i + 1) * rowSize);
      assert.ok(maxAbsDiff(row, s.tensor.data as Float32Array) <= TOLERANCE, `encoder row ${i}`);
    });
    const options = { language: 'de', sampleLen: 24 };
    const batched = await new DecodingTask(merged, options).run(batch);
    for (let i = 0; i < 2; i++) {
      const [alone] = await new DecodingTask(merged, options).run(singles[i]);
      assert.deepEqual(batched[i].tokens, alone.tokens, `window ${i}`);
      assert.ok(Math.abs(batched[i].avgLogprob - alone.avgLogprob) < 1e-4);
      assert.ok(Math.abs(batched[i].noSpeechProb - alone.noSpeechProb) < 1e-6);
    }
    const [one] = await new DecodingTask(merged, options).run(singles[0]);
    const [again] = await new DecodingTask(split, options).run(singles[0]);
    assert.deepEqual(one.tokens, again.tokens);
  });

  const ENGLISH: WhisperModelSpec = { ...TINY_WHISPER, name: 'whisper-tiny-test-en', vocab: 'english', files: ['encoder_model', 'decoder_model_merged'] };
  const V3: WhisperModelSpec = { ...TINY_WHISPER, name: 'whisper-tiny-test-v3', nMels: 128, files: ['encoder_model', 'decoder_model', 'decoder_with_past_model'] };

  test('English-only (.en) model: no language detection, language "en", translation refused', async () => {
    const model = await load(await ensureWhisperModel(ENGLISH), 'merged');
    assert.equal(model.isMultilingual, false);
    const audio = await decodeAudio(join(CLIPS, 'en_003.wav'));
    const result = await transcribe(audio, { model, temperature: 0 });
    assert.equal(result.language, 'en');
    assert.equal(result.languageProbs, undefined);
    assert.ok(result.segments.every((s) => s.tokens.every((t) => t < model.tokenizer.vocabSize)));
    await assert.rejects(transcribe(audio, { model, task: 'translate' }), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
  });

  test('128-mel model (large-v3 layout, split decoder): detection over all 100 languages, then a transcript', async () => {
    const model = await load(await ensureWhisperModel(V3), 'split');
    assert.equal(model.dims.nMels, 128);
    const audio = await decodeAudio(join(CLIPS, 'es_004.wav'));
    const result = await transcribe(audio, { model, temperature: 0 });
    const probs = Object.values(result.languageProbs ?? {});
    assert.equal(probs.length, 100);
    assert.ok(Math.abs(probs.reduce((s, p) => s + p, 0) - 1) < 1e-6);
    assert.ok('yue' in (result.languageProbs ?? {}));
    assert.equal(result.segments.map((s) => s.text).join(''), result.text);
  });
});
