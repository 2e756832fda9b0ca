import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterEmbeddings } from '../../src/speakers/clustering.js';
import { diarizationError } from '../../src/speakers/der.js';
import { loadEmbeddingModel } from '../../src/speakers/embedding.js';
import { slidingWindows, speakersPerFrame, topIndices, windowShift } from '../../src/speakers/pipeline.js';
import { loadSegmentationModel, powersetMapping } from '../../src/speakers/segmentation.js';
import { decodeModel, encodeModel } from '../../src/runtime/onnx/index.js';
import { ensureSpeakerModels } from '../models/speakers.js';
import { isMoxingError } from '../../src/errors.js';
import { scratchDir } from '../helpers/scratch.js';

test('powerset mapping is pyannote\'s: silence, each speaker, each pair', () => {
  const map = powersetMapping(3, 2, 7);
  const rows = Array.from({ length: 7 }, (_, k) => [...map.subarray(k * 3, k * 3 + 3)].join(''));
  assert.deepEqual(rows, ['000', '100', '010', '001', '110', '101', '011']);
  assert.throws(() => powersetMapping(3, 2, 8), /num_classes 8/);
  assert.throws(() => powersetMapping(3, 3, 8), /not supported/);
});

test('sliding windows: full windows every step, the rest zero-padded; short audio is one padded window', () => {
  const audio = Float32Array.from({ length: 25 }, (_, i) => i + 1);
  const windows = slidingWindows(audio, 10, 4);
  assert.deepEqual(windows.map((w) => w[0]), [1, 5, 9, 13, 17]);
  assert.deepEqual([...windows[4]], [17, 18, 19, 20, 21, 22, 23, 24, 25, 0]);
  assert.equal(slidingWindows(audio, 10, 5).length, 4); // (25 - 10) % 5 == 0: no padded window
  assert.deepEqual([...slidingWindows(audio.subarray(0, 3), 10, 4)[0]], [1, 2, 3, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(windowShift(160000, 0.1), 16000);
  assert.throws(() => windowShift(160000, 0), /window step/);
  assert.throws(() => windowShift(160000, 1.5), /window step/);
});

test('speakers per frame: overlap-added local counts, averaged and rounded', () => {
  // two windows of 4 frames, 2 speakers, window 4 frames long, shift 2 frames (receptive field shift 1)
  const a = Uint8Array.from([1, 0, 1, 1, 0, 0, 1, 0]); // counts 1 2 0 1
  const b = Uint8Array.from([1, 1, 1, 0, 0, 0, 0, 0]); // counts 2 1 0 0 starting at frame 2
  assert.deepEqual([...speakersPerFrame([a, b], 2, 4, 2, 1)], [1, 2, 1, 1, 0, 0, 0]);
});

test('top indices: the k largest, and ties broken as libstdc++ partial_sort breaks them', () => {
  assert.deepEqual(topIndices([5, 1, 9, 3], 2).sort(), [0, 2]);
  assert.deepEqual(topIndices([5, 1, 9, 3], 9).sort(), [0, 1, 2, 3]);
  assert.deepEqual(topIndices([5, 1, 9, 3], 0), []);
  // std::partial_sort(idx, idx+1, idx+3, greater) on [2, 2, 2] keeps the first; on [0, 3, 3] with k=1 the first 3
  assert.deepEqual(topIndices([2, 2, 2], 1), [0]);
  assert.deepEqual(topIndices([0, 3, 3], 1), [1]);
  // k=2 of [1, 0, 0]: the heap of the first two is [0, 1]; index 2 (0) does not beat the heap top (0): [0, 1]
  assert.deepEqual(topIndices([1, 0, 0], 2).sort(), [0, 1]);
});

test('clustering: complete linkage on cosine distance, cut by count or threshold, labels by first appearance', () => {
  const e = (...v: number[]) => Float32Array.from(v);
  const points = [e(1, 0), e(0, 1), e(0.99, 0.1), e(0.1, 0.99), e(-1, 0.05)];
  assert.deepEqual(clusterEmbeddings(points, { threshold: 0.5 }), [0, 1, 0, 1, 2]);
  // complete linkage: {0,2} and {1,3} are at most 1.0 apart, {1,3} and {4} up to 1.05: the first pair merges first
  assert.deepEqual(clusterEmbeddings(points, { numClusters: 2 }), [0, 0, 0, 0, 1]);
  assert.deepEqual(clusterEmbeddings(points, { numClusters: 5 }), [0, 1, 2, 3, 4]);
  assert.deepEqual(clusterEmbeddings(points, { numClusters: 6 }), [0, 0, 0, 0, 0]); // fastcluster's cutree_k
  assert.deepEqual(clusterEmbeddings(points, { threshold: 2.5 }), [0, 0, 0, 0, 0]);
  assert.deepEqual(clusterEmbeddings(points, { threshold: 0.001 }), [0, 1, 2, 3, 4]);
  assert.deepEqual(clusterEmbeddings(points, { threshold: 0.5, maxClusters: 2 }), [0, 0, 0, 0, 1]);
  assert.deepEqual(clusterEmbeddings(points, { threshold: 2.5, minClusters: 3 }), [0, 1, 0, 1, 2]);
  assert.deepEqual(clusterEmbeddings([e(1, 0)]), [0]);
  assert.deepEqual(clusterEmbeddings([]), []);
  assert.throws(() => clusterEmbeddings(points, { numClusters: 0 }), /positive integer/);
  assert.throws(() => clusterEmbeddings(points, { threshold: -1 }), /threshold/);
});

test('DER by hand: perfect, missed, false alarm, confusion, overlap, and the collar', () => {
  const ref = [
    { start: 0, end: 10, speaker: 'A' },
    { start: 10, end: 20, speaker: 'B' },
  ];
  assert.equal(diarizationError(ref, [{ start: 0, end: 10, speaker: 'x' }, { start: 10, end: 20, speaker: 'y' }]).der, 0);
  // B's last 5 s missed, 2 s of false alarm after: (5 + 2) / 20
  const r1 = diarizationError(ref, [{ start: 0, end: 10, speaker: 'x' }, { start: 10, end: 15, speaker: 'y' }, { start: 20, end: 22, speaker: 'y' }]);
  assert.equal(r1.missed, 5);
  assert.equal(r1.falseAlarm, 2);
  assert.ok(Math.abs(r1.der - 7 / 20) < 1e-12);
  // one hypothesis speaker for both: B's 10 s are confusion
  const r2 = diarizationError(ref, [{ start: 0, end: 20, speaker: 'x' }]);
  assert.equal(r2.confusion, 10);
  assert.equal(r2.der, 0.5);
  // overlap in the reference counts twice in the total
  const r3 = diarizationError([{ start: 0, end: 10, speaker: 'A' }, { start: 5, end: 10, speaker: 'B' }], [{ start: 0, end: 10, speaker: 'x' }]);
  assert.equal(r3.total, 15);
  assert.equal(r3.missed, 5);
  // boundaries 1 s off, collar 2 s (1 s each side of every reference boundary): not scored
  const off = [{ start: 0.5, end: 10.5, speaker: 'x' }, { start: 10.5, end: 19.5, speaker: 'y' }];
  assert.ok(diarizationError(ref, off).der > 0);
  assert.equal(diarizationError(ref, off, { collar: 2 }).der, 0);
  assert.equal(diarizationError(ref, off, { collar: 2 }).total, 16);
});

test('the models\' metadata is checked before anything runs; a wrong input shape is refused clearly', async () => {
  const models = await ensureSpeakerModels();
  const dir = scratchDir('moxing-meta-');
  const edited = (path: string, edit: (m: ReturnType<typeof decodeModel>) => void) => {
    const model = decodeModel(readFileSync(path));
    edit(model);
    const out = join(dir, `m${Math.random().toString(36).slice(2)}.onnx`);
    writeFileSync(out, encodeModel(model));
    return out;
  };
  const setMeta = (key: string, value: string | undefined) => (m: ReturnType<typeof decodeModel>) => {
    m.metadataProps = m.metadataProps.filter((p) => p.key !== key);
    if (value !== undefined) m.metadataProps.push({ key, value } as (typeof m.metadataProps)[number]);
  };
  const rejects = async (promise: Promise<unknown>, pattern: RegExp) => {
    await assert.rejects(promise, (e: unknown) => isMoxingError(e, 'MODEL_INVALID') && pattern.test((e as Error).message));
  };
  await rejects(loadEmbeddingModel(edited(models.wespeaker, setMeta('framework', 'nemo'))), /framework.*"nemo"/);
  await rejects(loadEmbeddingModel(edited(models.wespeaker, setMeta('output_dim', undefined))), /output_dim.*missing/);
  await rejects(loadEmbeddingModel(edited(models.wespeaker, setMeta('output_dim', '512'))), /\[B, 256\].*512|512/);
  await rejects(loadEmbeddingModel(edited(models.campplus, setMeta('feature_normalize_type', 'per-utterance'))), /feature_normalize_type/);
  await rejects(loadEmbeddingModel(edited(models.wespeaker, (m) => {
    const dims = m.graph?.input?.[0].type?.tensorType?.shape?.dim;
    if (dims) dims[2] = { dimValue: 64 } as (typeof dims)[number];
  })), /expected float32 fbank \[N, T, 80\]/);
  await rejects(loadSegmentationModel(edited(models.segmentation, setMeta('window_size', undefined))), /window_size.*missing/);
  await rejects(loadSegmentationModel(edited(models.segmentation, setMeta('num_classes', '6'))), /num_classes 6/);
  await rejects(loadSegmentationModel(models.wespeaker), /sample_rate|window_size/);
  await rejects(loadEmbeddingModel(models.segmentation), /framework.*missing/);
});

test('segmentation and embedding models give real multilabel activity and unit-scale embeddings', async () => {
  const models = await ensureSpeakerModels();
  const segmentation = await loadSegmentationModel(models.segmentation);
  assert.deepEqual(segmentation.metadata, { sampleRate: 16000, windowSize: 160000, receptiveFieldSize: 991, receptiveFieldShift: 270, numSpeakers: 3, powersetMaxClasses: 2, numClasses: 7 });
  const silence = new Float32Array(160000);
  const tone = Float32Array.from({ length: 160000 }, (_, i) => (i > 80000 ? 0.3 * Math.sin(i * 0.05) : 0));
  const [quiet, half] = await segmentation.segment([silence, tone]);
  assert.equal(quiet.length, 589 * 3);
  assert.ok(quiet.every((v) => v === 0));
  const activeFrames = Array.from({ length: 589 }, (_, f) => half[f * 3] + half[f * 3 + 1] + half[f * 3 + 2]);
  assert.equal(activeFrames.slice(0, 250).reduce((a, b) => a + b, 0), 0);
  assert.ok(activeFrames.slice(320).every((v) => v >= 1));
  const embedding = await loadEmbeddingModel(models.wespeaker);
  assert.equal(embedding.metadata.outputDim, 256);
  assert.equal(embedding.metadata.normalizeSamples, false);
  const e = await embedding.embed(tone.subarray(80000));
  assert.equal(e?.length, 256);
  await assert.rejects(embedding.embed(new Float32Array(50)), /too short/);
});
