import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ctcEmissions,
  framesForSamples,
  isCtcModelDir,
  loadCtcConfig,
  loadCtcModel,
  planChunks,
  recognizeCtc,
  zeroMeanUnitVariance,
  WAV2VEC2_CONV_KERNEL,
  WAV2VEC2_CONV_STRIDE,
} from '../../../src/asr/ctc/index.js';
import { isMoxingError } from '../../../src/errors.js';
import { releaseSessions } from '../../../src/runtime/index.js';
import { ensureWav2Vec2Model, TINY_WAV2VEC2 } from '../../models/wav2vec2.js';

const scratch = mkdtempSync(join(tmpdir(), 'moxing-ctc-'));
after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await releaseSessions();
});

/** A deterministic speech-like signal: gliding tones with syllable-rate bursts. */
function signal(seconds: number, seed = 1): Float32Array {
  const out = new Float32Array(Math.round(seconds * 16000));
  for (let i = 0; i < out.length; i++) {
    const t = i / 16000;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t + seed);
    out[i] = 0.3 * envelope * Math.sin(2 * Math.PI * (200 + 80 * Math.sin(t * 1.7 * seed)) * t) + 0.05 * Math.sin(i * 0.91 * seed);
  }
  return out;
}

test('config: vocab, blank, delimiter, normalisation and the conv geometry of the generated export', () => {
  const dir = ensureWav2Vec2Model();
  assert.ok(isCtcModelDir(dir));
  const c = loadCtcConfig(dir);
  assert.equal(c.vocab.blankId, 0);
  assert.equal(c.vocab.tokens[c.vocab.delimiterId], '|');
  assert.deepEqual([...c.vocab.specialIds].sort(), [0, 1, 2, 3]);
  assert.equal(c.doNormalize, true);
  assert.equal(c.frameSamples, 320);
  assert.equal(c.receptiveSamples, 400);
  assert.equal(framesForSamples(16000, WAV2VEC2_CONV_KERNEL, WAV2VEC2_CONV_STRIDE), 49);
  assert.equal(framesForSamples(399, WAV2VEC2_CONV_KERNEL, WAV2VEC2_CONV_STRIDE), 0);
});

test('config: MMS multi-language vocab.json picks the asked language, errors name the choices', async () => {
  const dir = join(scratch, 'mms');
  cpSync(ensureWav2Vec2Model(), dir, { recursive: true });
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ eng: { '<pad>': 0, '|': 1, a: 2 }, fra: { '<pad>': 0, '|': 1, é: 2 } }));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ pad_token: '<pad>', word_delimiter_token: '|', target_lang: 'eng' }));
  assert.equal(loadCtcConfig(dir).vocab.tokens[2], 'a');
  assert.equal(loadCtcConfig(dir, { language: 'fra' }).vocab.tokens[2], 'é');
  assert.throws(() => loadCtcConfig(dir, { language: 'deu' }), (e) => isMoxingError(e, 'BAD_ARGUMENT') && /"deu".*eng, fra/.test(e.message));
  // the export's 32 labels do not fit the 3-token "eng" vocabulary: another adapter was baked in
  await assert.rejects(recognizeCtc(signal(1), dir), (e) => isMoxingError(e, 'MODEL_INVALID') && /another language's adapter/.test(e.message));
});

test('config errors: missing folder, missing model, missing vocab, malformed json, wrong I/O names', async () => {
  assert.throws(() => loadCtcConfig(join(scratch, 'nope')), (e) => isMoxingError(e, 'FILE_NOT_FOUND'));
  const empty = join(scratch, 'empty');
  mkdirSync(empty);
  assert.throws(() => loadCtcConfig(empty), (e) => isMoxingError(e, 'MODEL_INVALID') && /model\.onnx/.test(e.message));
  const noVocab = join(scratch, 'novocab');
  cpSync(ensureWav2Vec2Model(), noVocab, { recursive: true });
  rmSync(join(noVocab, 'vocab.json'));
  assert.throws(() => loadCtcConfig(noVocab), (e) => isMoxingError(e, 'MODEL_INVALID') && /vocab\.json/.test(e.message));
  writeFileSync(join(noVocab, 'vocab.json'), '{"<pad>": 0,');
  assert.throws(() => loadCtcConfig(noVocab), (e) => isMoxingError(e, 'CONFIG_INVALID'));
  const whisperLike = join(scratch, 'whisper-like');
  mkdirSync(whisperLike);
  cpSync(join(new URL('../../../../shared/models/whisper-tiny-random/', import.meta.url).pathname, 'onnx', 'encoder_model.onnx'), join(whisperLike, 'model.onnx'));
  writeFileSync(join(whisperLike, 'vocab.json'), '{"<pad>": 0, "|": 1}');
  await assert.rejects(loadCtcModel(whisperLike), (e) => isMoxingError(e, 'MODEL_INVALID') && /input_values/.test(e.message));
});

test('chunk plans tile the frame axis exactly and validate strides', () => {
  const geometry = { frameSamples: 320, convKernel: WAV2VEC2_CONV_KERNEL, convStride: WAV2VEC2_CONV_STRIDE, samplingRate: 16000 };
  for (const samples of [16000 * 65 + 123, 16000 * 31, 16000 * 90]) {
    const plans = planChunks(samples, geometry, { chunkLengthS: 30, strideLengthS: 5 });
    assert.equal(plans[0].keepStart, 0);
    assert.equal(plans[plans.length - 1].keepEnd, framesForSamples(samples, WAV2VEC2_CONV_KERNEL, WAV2VEC2_CONV_STRIDE));
    for (let k = 1; k < plans.length; k++) assert.equal(plans[k].keepStart, plans[k - 1].keepEnd);
    for (const p of plans) assert.equal(p.startSample % 320, 0);
  }
  assert.equal(planChunks(16000 * 10, geometry).length, 1);
  assert.throws(() => planChunks(16000 * 60, geometry, { chunkLengthS: 10, strideLengthS: 5 }), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
  assert.throws(() => planChunks(16000 * 60, geometry, { chunkLengthS: 10, strideLengthS: 0 }), (e) => isMoxingError(e, 'BAD_ARGUMENT'));
});

test('chunked emissions equal unchunked ones exactly on a local model (no attention, no normalisation)', async () => {
  const dir = ensureWav2Vec2Model({ ...TINY_WAV2VEC2, name: 'wav2vec2-local-test', layers: 0, doNormalize: false });
  const model = await loadCtcModel(dir);
  const audio = signal(9.3);
  const whole = await ctcEmissions(model, audio, { chunkLengthS: 60 });
  const chunked = await ctcEmissions(model, audio, { chunkLengthS: 2, strideLengthS: 0.4 });
  assert.equal(chunked.frames, whole.frames);
  let maxDiff = 0;
  for (let i = 0; i < whole.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole.logits[i] - chunked.logits[i]));
  // the positional conv sees 8 frames each side, well inside the 20-frame stride
  assert.ok(maxDiff < 1e-4, `max |chunked - whole| = ${maxDiff}`);
});

test('chunked emissions of the full model keep the frame count and nearly all frame decisions', async () => {
  const model = await loadCtcModel(ensureWav2Vec2Model());
  const audio = signal(9.3, 2);
  const whole = await ctcEmissions(model, audio, { chunkLengthS: 60 });
  const chunked = await ctcEmissions(model, audio, { chunkLengthS: 3, strideLengthS: 0.5 });
  assert.equal(chunked.frames, whole.frames);
  let same = 0;
  const V = whole.vocabSize;
  for (let f = 0; f < whole.frames; f++) {
    let a = 0;
    let b = 0;
    for (let v = 1; v < V; v++) {
      if (whole.logits[f * V + v] > whole.logits[f * V + a]) a = v;
      if (chunked.logits[f * V + v] > chunked.logits[f * V + b]) b = v;
    }
    if (a === b) same++;
  }
  // attention sees different context and each chunk is normalised alone (as transformers' pipeline does)
  assert.ok(same / whole.frames > 0.85, `argmax agreement ${same / whole.frames}`);
});

test('recognizeCtc runs the generated export end to end', async () => {
  const dir = ensureWav2Vec2Model();
  const audio = signal(4.2, 3);
  const result = await recognizeCtc(audio, dir, { segmentGapS: 0.3 });
  assert.equal(result.duration, 4.2);
  assert.equal(result.language, 'und');
  assert.ok(result.segments.length >= 1);
  assert.equal(result.text, result.segments.map((s) => s.text).join(''));
  assert.match(result.text, /^( [A-Z']+)+$/);
  let last = 0;
  for (const s of result.segments) {
    assert.equal(s.text, s.words!.map((w) => w.word).join(''));
    for (const w of s.words!) {
      assert.ok(w.start >= last && w.end > w.start && w.end <= 4.2, `${w.word} ${w.start}-${w.end}`);
      assert.ok(w.probability > 0 && w.probability <= 1);
      last = w.end;
    }
  }
  // deterministic: same input, same words
  assert.deepEqual((await recognizeCtc(audio, dir, { segmentGapS: 0.3 })).segments, result.segments);
  await assert.rejects(recognizeCtc(new Float32Array(0), dir), (e) => isMoxingError(e, 'AUDIO_INVALID'));
  // shorter than the 400-sample receptive field: padded, not an error
  assert.equal((await recognizeCtc(new Float32Array(100).fill(0.1), dir)).duration, 100 / 16000);
});

test('zeroMeanUnitVariance matches the feature extractor formula', () => {
  const x = Float32Array.from([1, 2, 3, 4]);
  const y = zeroMeanUnitVariance(x);
  const sd = Math.sqrt(1.25 + 1e-7);
  assert.deepEqual([...y].map((v) => Math.round(v * 1e5) / 1e5), [-1.5, -0.5, 0.5, 1.5].map((v) => Math.round((v / sd) * 1e5) / 1e5));
});
