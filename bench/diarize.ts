/**
 * Diarization quality and speed, in one run: `npm run bench:diarize [-- --minutes 10]`.
 *
 * - DER (pyannote.metrics conventions: no collar, and a 0.25 s collar) on generated conversations with known
 *   truth: espeak-ng voices, 2–4 speakers, some with crosstalk; at the default threshold and with the true count.
 * - Speed on one long conversation (`--minutes`, 10 by default): real-time factor of each stage of moxing's
 *   pipeline, and of sherpa-onnx-node's OfflineSpeakerDiarization on the same models and audio (one thread each,
 *   sherpa-onnx in a child process), as a ratio; and whether the two agree on it.
 *
 * The DER uses the generated test models (test/models/speakers.ts: the real exports' I/O, hand-written spectral
 * maths inside), not trained ones: it measures the pipeline with those models. The speed uses random-weight
 * models of the real architectures' dimensions (test/models/speakers-real.ts: pyannote segmentation-3.0 and
 * WeSpeaker ResNet34, generated once into bench/.work/models/): their outputs mean nothing, their compute is real.
 */
import { parseArgs } from 'node:util';
import { ensureSpeakerModels } from '../test/models/speakers.js';
import { ensureRealSizeSpeakerModels } from '../test/models/speakers-real.js';
import { BENCH_MODELS_DIR } from '../test/models/whisper.js';
import { conversation, EQUALITY_CASES, type ConversationSpec } from '../test/speakers/conversations.js';
import { runSherpa } from '../test/speakers/sherpa.js';
import { diarizationError } from '../src/speakers/der.js';
import { loadEmbeddingModel, type EmbeddingModel } from '../src/speakers/embedding.js';
import { DEFAULT_PIPELINE, runPipeline, slidingWindows, windowShift, type StageTimings } from '../src/speakers/pipeline.js';
import { loadSegmentationModel } from '../src/speakers/segmentation.js';

const { values: flags } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(flags.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${flags.minutes}`);
const models = await ensureSpeakerModels();
const runtime = { intraOpThreads: 1, interOpThreads: 1 };
const segmentation = await loadSegmentationModel(models.segmentation, runtime);
const embedding = await loadEmbeddingModel(models.wespeaker, runtime);

const extra: ConversationSpec[] = Array.from({ length: 6 }, (_, i) => ({ seed: 200 + i, speakers: 2 + (i % 3), turns: 8 + (i % 5), crosstalk: i % 2 === 0 }));
const cases = await Promise.all([...EQUALITY_CASES, ...extra].map((spec) => conversation(spec)));

console.log('## DER on generated conversations (WeSpeaker layout test model)\n');
console.log('| case | speakers | audio s | found (threshold 0.5) | DER | DER collar 0.25 | DER, true count | DER, true count, collar 0.25 |');
console.log('|---|---|---|---|---|---|---|---|');
const sums = { total: 0, errors: 0, totalC: 0, errorsC: 0, totalK: 0, errorsK: 0, totalKC: 0, errorsKC: 0 };
for (const c of cases) {
  const byThreshold = (await runPipeline(c.samples, segmentation, embedding, { ...DEFAULT_PIPELINE })).segments.map((s) => ({ ...s, speaker: String(s.cluster) }));
  const byCount = (await runPipeline(c.samples, segmentation, embedding, { ...DEFAULT_PIPELINE, numClusters: c.speakers })).segments.map((s) => ({ ...s, speaker: String(s.cluster) }));
  const d = diarizationError(c.truth, byThreshold);
  const dc = diarizationError(c.truth, byThreshold, { collar: 0.25 });
  const k = diarizationError(c.truth, byCount);
  const kc = diarizationError(c.truth, byCount, { collar: 0.25 });
  sums.total += d.total;
  sums.errors += d.der * d.total;
  sums.totalC += dc.total;
  sums.errorsC += dc.der * dc.total;
  sums.totalK += k.total;
  sums.errorsK += k.der * k.total;
  sums.totalKC += kc.total;
  sums.errorsKC += kc.der * kc.total;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(`| ${c.name} | ${c.speakers} | ${(c.samples.length / 16000).toFixed(1)} | ${new Set(byThreshold.map((s) => s.speaker)).size} | ${pct(d.der)} | ${pct(dc.der)} | ${pct(k.der)} | ${pct(kc.der)} |`);
}
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
console.log(`| **all (time-weighted)** | | | | ${pct(sums.errors / sums.total)} | ${pct(sums.errorsC / sums.totalC)} | ${pct(sums.errorsK / sums.totalK)} | ${pct(sums.errorsKC / sums.totalKC)} |\n`);

const realSize = await ensureRealSizeSpeakerModels(BENCH_MODELS_DIR);
const realSegmentation = await loadSegmentationModel(realSize.segmentation, runtime);
const realModel = await loadEmbeddingModel(realSize.wespeaker, runtime);
// counts what the random segmentation sends to the embedding model (a real conversation embeds about its
// non-overlapped speech per window)
const embedded = { count: 0, samples: 0 };
const realEmbedding: EmbeddingModel = {
  ...realModel,
  embed: (samples) => {
    embedded.count++;
    embedded.samples += samples.length;
    return realModel.embed(samples);
  },
};
const turns = Math.round(minutes * 10.5); // about a minute of audio per 10.5 turns
const long = await conversation({ seed: 900 + minutes, speakers: 4, turns, crosstalk: true });
const seconds = long.samples.length / 16000;
const timings: StageTimings = { segmentation: 0, embedding: 0, clustering: 0 };
const started = performance.now();
const ours = await runPipeline(long.samples, realSegmentation, realEmbedding, { ...DEFAULT_PIPELINE }, timings);
const total = (performance.now() - started) / 1000;
const sherpa = await runSherpa({ segmentation: realSize.segmentation, embedding: realSize.wespeaker, audio: [long.f32], windowStep: 0.1, threshold: 0.5, minDurationOn: 0.3, minDurationOff: 0.5 });
const theirs = sherpa.results[0];
const same =
  ours.segments.length === theirs.segments.length &&
  ours.segments.every((s, i) => Math.abs(s.start - theirs.segments[i].start) <= 270 / 16000 && Math.abs(s.end - theirs.segments[i].end) <= 270 / 16000);
console.log(`## Speed on ${(seconds / 60).toFixed(1)} min of audio (one thread each; random-weight pyannote segmentation-3.0 and WeSpeaker ResNet34 of the real dimensions)\n`);
console.log('| stage | seconds | RTF |');
console.log('|---|---|---|');
for (const [stage, s] of Object.entries(timings)) console.log(`| moxing ${stage} | ${s.toFixed(2)} | ${(s / seconds).toFixed(4)} |`);
console.log(`| moxing total | ${total.toFixed(2)} | ${(total / seconds).toFixed(4)} |`);
console.log(`| sherpa-onnx-node 1.13.8 total | ${theirs.seconds.toFixed(2)} | ${(theirs.seconds / seconds).toFixed(4)} |`);
console.log(`\nmoxing / sherpa-onnx time: ${(total / theirs.seconds).toFixed(2)}x; same turns as sherpa-onnx: ${same ? 'yes' : 'NO'} (${ours.segments.length} turns, ${new Set(ours.segments.map((s) => s.cluster)).size} speakers: the weights are random)`);
const windows = slidingWindows(long.samples, realSegmentation.metadata.windowSize, windowShift(realSegmentation.metadata.windowSize, DEFAULT_PIPELINE.windowStep)).length;
console.log(`${windows} segmentation windows; ${embedded.count} embeddings of ${(embedded.samples / 16000 / embedded.count).toFixed(1)} s of audio on average (${(embedded.samples / 16000 / windows).toFixed(1)} s per window)`);
