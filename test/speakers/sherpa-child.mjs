// Runs sherpa-onnx-node's OfflineSpeakerDiarization in its own process (it SIGSEGVs on models it does not
// expect, which must not take the test runner down). Input: a JSON job on argv[2]; output: JSON on stdout.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const sherpa = createRequire(import.meta.url)('sherpa-onnx-node');

const job = JSON.parse(process.argv[2]);
const sd = new sherpa.OfflineSpeakerDiarization({
  segmentation: { pyannote: { model: job.segmentation, windowShiftRatio: job.windowStep }, numThreads: 1, debug: 0 },
  embedding: { model: job.embedding, numThreads: 1, debug: 0 },
  clustering: { numClusters: job.numClusters ?? -1, threshold: job.threshold ?? 0.5 },
  minDurationOn: job.minDurationOn,
  minDurationOff: job.minDurationOff,
});
const results = [];
for (const file of job.audio) {
  const bytes = readFileSync(file);
  const samples = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const started = process.hrtime.bigint();
  const segments = sd.process(samples);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  results.push({ seconds, segments: segments.map((s) => ({ start: s.start, end: s.end, speaker: s.speaker })) });
}
process.stdout.write(JSON.stringify({ sampleRate: sd.sampleRate, results }));
