// The random-weight speaker models of the real dimensions (bench:diarize's speed models) keep the real exports'
// I/O, shapes, metadata and size, so the speed bench cannot drift from what it claims to measure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../../src/runtime/onnx/index.js';
import { loadEmbeddingModel } from '../../src/speakers/embedding.js';
import { readOnnxMetadata } from '../../src/speakers/metadata.js';
import { DEFAULT_PIPELINE, runPipeline } from '../../src/speakers/pipeline.js';
import { loadSegmentationModel } from '../../src/speakers/segmentation.js';
import { ensureRealSizeSpeakerModels } from '../models/speakers-real.js';
import { TEST_MODELS_DIR } from '../models/whisper.js';
import { conversation } from './conversations.js';
import { runSherpa } from './sherpa.js';

const models = await ensureRealSizeSpeakerModels(TEST_MODELS_DIR);
const runtime = { intraOpThreads: 1, interOpThreads: 1 };

/** Parameter count and default-domain opset of an ONNX file. */
function parameters(path: string): { count: number; opset: number } {
  const model = decodeModel(readFileSync(path));
  const count = (model.graph?.initializer ?? []).reduce((n, t) => n + (t.dims ?? []).reduce((a, b) => a * Number(b), 1), 0);
  return { count, opset: Number(model.opsetImport?.find((o) => !o.domain)?.version) };
}

function ioOf(session: ort.InferenceSession) {
  const describe = (m: ort.InferenceSession.ValueMetadata) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name });
  return { inputs: session.inputMetadata.map(describe), outputs: session.outputMetadata.map(describe) };
}

test('segmentation-3.0 of the real dimensions: x [N, 1, T] → y [N, 589, 7] log-probabilities, the export\'s metadata, ~1.47 M parameters', async () => {
  const session = await ort.InferenceSession.create(models.segmentation, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  assert.deepEqual(ioOf(session), {
    inputs: [{ name: 'x', type: 'float32', shape: ['N', 1, 'T'] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['N', 'T', 7] }],
  });
  const metadata = await readOnnxMetadata(models.segmentation);
  assert.deepEqual(
    { ...metadata, model_author: undefined },
    {
      num_speakers: '3',
      powerset_max_classes: '2',
      num_classes: '7',
      sample_rate: '16000',
      window_size: '160000',
      receptive_field_size: '991',
      receptive_field_shift: '270',
      model_type: 'pyannote-segmentation-3.0',
      version: '1',
      model_author: undefined,
      maintainer: 'k2-fsa',
      url_1: 'https://huggingface.co/pyannote/segmentation-3.0',
      url_2: 'https://huggingface.co/csukuangfj/pyannote-models/tree/main/segmentation-3.0',
      license: 'https://huggingface.co/pyannote/segmentation-3.0/blob/main/LICENSE',
    },
  );
  // PyanNet: 1.47 M (SincNet 62.6 k here, with the 80 sinc filters as a plain Conv weight of 20 k instead of
  // their 160 band edges; LSTM 1.38 M; linear layers 50 k)
  const { count, opset } = parameters(models.segmentation);
  assert.ok(count > 1.45e6 && count < 1.55e6, `segmentation has ${count} parameters`);
  assert.equal(opset, 15); // sherpa-onnx's export script
  const speech = (await conversation({ seed: 200, speakers: 2, turns: 8, crosstalk: true })).samples;
  const window = new Float32Array(160000);
  window.set(speech.subarray(0, 160000));
  const y = (await session.run({ x: new ort.Tensor('float32', window, [1, 1, 160000]) })).y;
  assert.deepEqual(y.dims, [1, 589, 7]);
  const values = y.data as Float32Array;
  for (let f = 0; f < 589; f++) {
    const row = values.subarray(f * 7, f * 7 + 7);
    assert.ok(Math.abs(row.reduce((s, v) => s + Math.exp(v), 0) - 1) < 1e-4, `frame ${f} is not a log-softmax`);
  }
  // moxing's loader takes it, and the 991-sample receptive field at 270-sample steps gives 589 frames per window
  const loaded = await loadSegmentationModel(models.segmentation, runtime);
  assert.equal(Math.floor((160000 - loaded.metadata.receptiveFieldSize) / loaded.metadata.receptiveFieldShift) + 1, 589);
});

test('WeSpeaker ResNet34 of the real dimensions: feats [B, T, 80] → embs [B, 256], the export\'s metadata, ~6.6 M parameters', async () => {
  const session = await ort.InferenceSession.create(models.wespeaker, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  assert.deepEqual(ioOf(session), {
    inputs: [{ name: 'feats', type: 'float32', shape: ['B', 'T', 80] }],
    outputs: [{ name: 'embs', type: 'float32', shape: ['B', 256] }],
  });
  const metadata = await readOnnxMetadata(models.wespeaker);
  assert.deepEqual(
    { ...metadata, comment: undefined },
    { framework: 'wespeaker', language: 'English', sample_rate: '16000', output_dim: '256', url: 'https://github.com/wenet-e2e/wespeaker/blob/master/docs/pretrained.md', comment: undefined, normalize_samples: '0' },
  );
  // WeSpeaker's ResNet34 (BatchNorm folded): 6.63 M
  const { count, opset } = parameters(models.wespeaker);
  assert.ok(count > 6.5e6 && count < 6.7e6, `ResNet34 has ${count} parameters`);
  assert.equal(opset, 14); // WeSpeaker's export_onnx.py
  const embedding = await loadEmbeddingModel(models.wespeaker, runtime);
  const speech = (await conversation({ seed: 200, speakers: 2, turns: 8, crosstalk: true })).samples;
  const e = await embedding.embed(speech.subarray(8000, 8000 + 2 * 16000));
  assert.ok(e && e.length === 256 && e.every(Number.isFinite));
});

test('sherpa-onnx-node diarizes with the real-size models and finds the turns moxing finds', async () => {
  const audio = await conversation({ seed: 201, speakers: 3, turns: 4, crosstalk: false });
  const segmentation = await loadSegmentationModel(models.segmentation, runtime);
  const embedding = await loadEmbeddingModel(models.wespeaker, runtime);
  const ours = (await runPipeline(audio.samples, segmentation, embedding, { ...DEFAULT_PIPELINE })).segments;
  const theirs = (await runSherpa({ segmentation: models.segmentation, embedding: models.wespeaker, audio: [audio.f32], windowStep: 0.1, threshold: 0.5, minDurationOn: 0.3, minDurationOff: 0.5 })).results[0].segments;
  assert.ok(audio.samples.length > 160000, 'the audio spans several windows (embeddings and clustering run)');
  assert.ok(ours.length > 0);
  assert.equal(ours.length, theirs.length);
  ours.forEach((s, i) => {
    assert.ok(Math.abs(s.start - theirs[i].start) <= 270 / 16000 && Math.abs(s.end - theirs[i].end) <= 270 / 16000, `turn ${i}: ${JSON.stringify(s)} vs ${JSON.stringify(theirs[i])}`);
  });
});
