/**
 * moxing's diarization against sherpa-onnx-node's OfflineSpeakerDiarization (1.13.8) on the same ONNX files and
 * the same audio: ten generated conversations of 2–4 espeak-ng voices, some with crosstalk. Same speakers, same
 * turns, boundaries within one frame (16.875 ms). sherpa-onnx runs in a child process (it SIGSEGVs on models it
 * does not expect).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureSpeakerModels } from '../models/speakers.js';
import { loadEmbeddingModel } from '../../src/speakers/embedding.js';
import { DEFAULT_PIPELINE, runPipeline, type PipelineOptions } from '../../src/speakers/pipeline.js';
import { loadSegmentationModel } from '../../src/speakers/segmentation.js';
import { conversation, EQUALITY_CASES, type Conversation } from './conversations.js';
import { runSherpa } from './sherpa.js';
import { scratchDir } from '../helpers/scratch.js';

const FRAME = 270 / 16000;

interface Seg {
  start: number;
  end: number;
  speaker: number;
}

/** Speakers renumbered by first turn, so two runs that found the same partition compare equal. */
function canonical(segments: readonly Seg[]): Seg[] {
  const ids = new Map<number, number>();
  for (const s of segments) if (!ids.has(s.speaker)) ids.set(s.speaker, ids.size);
  return segments.map((s) => ({ ...s, speaker: ids.get(s.speaker) as number }));
}

function assertSame(ours: readonly Seg[], theirs: readonly Seg[], label: string): void {
  const a = canonical(ours);
  const b = canonical(theirs);
  assert.equal(a.length, b.length, `${label}: ${a.length} turns, sherpa-onnx ${b.length}`);
  assert.ok(a.length > 0, `${label}: no turns at all`);
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].speaker, b[i].speaker, `${label}: turn ${i} speaker`);
    assert.ok(Math.abs(a[i].start - b[i].start) <= FRAME, `${label}: turn ${i} starts ${a[i].start} vs ${b[i].start}`);
    assert.ok(Math.abs(a[i].end - b[i].end) <= FRAME, `${label}: turn ${i} ends ${a[i].end} vs ${b[i].end}`);
  }
}

async function compare(cases: Conversation[], embeddingPath: string, options: PipelineOptions): Promise<number> {
  const models = await ensureSpeakerModels();
  const segmentation = await loadSegmentationModel(models.segmentation);
  const embedding = await loadEmbeddingModel(embeddingPath);
  const sherpa = await runSherpa({
    segmentation: models.segmentation,
    embedding: embeddingPath,
    audio: cases.map((c) => c.f32),
    windowStep: options.windowStep,
    numClusters: options.numClusters,
    threshold: options.threshold,
    minDurationOn: options.minDurationOn,
    minDurationOff: options.minDurationOff,
  });
  assert.equal(sherpa.sampleRate, 16000);
  let speakersSeen = 0;
  for (let i = 0; i < cases.length; i++) {
    const ours = await runPipeline(cases[i].samples, segmentation, embedding, options);
    const mapped = ours.segments.map((s) => ({ start: s.start, end: s.end, speaker: s.cluster }));
    assertSame(mapped, sherpa.results[i].segments, cases[i].name);
    speakersSeen += new Set(mapped.map((s) => s.speaker)).size;
  }
  return speakersSeen;
}

test('diarization equals sherpa-onnx on ten conversations (WeSpeaker layout, threshold 0.5, default step)', async () => {
  const cases = await Promise.all(EQUALITY_CASES.map((spec) => conversation(spec)));
  assert.ok(cases.length >= 10);
  assert.deepEqual([...new Set(cases.map((c) => c.speakers))].sort(), [2, 3, 4]);
  const speakers = await compare(cases, (await ensureSpeakerModels()).wespeaker, { ...DEFAULT_PIPELINE });
  // not a degenerate agreement: the conversations come out as several speakers
  assert.ok(speakers >= 2 * cases.length, `only ${speakers} speakers over ${cases.length} cases`);
});

test('diarization equals sherpa-onnx with CAM++ layout (global-mean fbank), a given speaker count, step 0.25 and other durations', async () => {
  const cases = await Promise.all(EQUALITY_CASES.slice(0, 4).map((spec) => conversation(spec)));
  for (const c of cases) {
    await compare([c], (await ensureSpeakerModels()).campplus, { ...DEFAULT_PIPELINE, windowStep: 0.25, numClusters: c.speakers, minDurationOn: 0.2, minDurationOff: 0.8 });
  }
});

test('short audio (one window, no clustering) equals sherpa-onnx', async () => {
  const c = await conversation(EQUALITY_CASES[0]);
  const short = { ...c, name: `${c.name}-first-8s`, samples: c.samples.subarray(0, 8 * 16000) };
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const f32 = join(scratchDir('moxing-short-'), 'short.f32');
  writeFileSync(f32, new Uint8Array(short.samples.slice().buffer));
  await compare([{ ...short, f32 }], (await ensureSpeakerModels()).wespeaker, { ...DEFAULT_PIPELINE });
});
