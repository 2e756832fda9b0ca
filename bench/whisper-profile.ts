/**
 * Where the time of the batched pipeline goes, on one model:
 * `tsx bench/whisper-profile.ts <modelDir> <wav> [tokensPerWindow=32] [batchSize=8] [threads]`.
 * 1. Stage by stage, one after another: VAD, audio read + mel, encoder, decoder per step, and the JS share of
 *    decoding (logit filters and search) measured separately from the ONNX runs.
 * 2. The pipeline as `transcribe(file, { vad: true, batchSize })` runs it (the mel worker overlapping the model,
 *    the forced work of bench:whisper): its wall time split into encoder runs, first passes (cross-attention
 *    K/V and prompt), cached decoder steps, the decode's JS (src/asr/whisper/profile.ts), and the rest (VAD,
 *    waits for the mel worker, segments), so that the parts add up to the wall time.
 */
import { N_FRAMES, logMelSpectrogram, padOrTrim, streamAudio } from '../src/audio/index.js';
import { DecodingTask, WhisperModel, WindowReader, findWindows, resolveBatchedOptions, transcribe, type DecoderRunner } from '../src/asr/whisper/index.js';
import { emptyDecodeProfile, setDecodeProfile } from '../src/asr/whisper/profile.js';
import { loadWhisperTokenizer } from '../src/text/index.js';
import { float32 } from '../src/runtime/index.js';

const [modelDir, wav, tokensArg = '32', batchArg = '8', threadsArg] = process.argv.slice(2);
const tokens = Number(tokensArg);
const batchSize = Number(batchArg);
const runtime = threadsArg ? { intraOpThreads: Number(threadsArg) } : {};
const model = await WhisperModel.load(modelDir, { runtime });
const eot = (await loadWhisperTokenizer(modelDir)).eot;
const ms = (t: number): string => `${(t / 1000).toFixed(2)} s`;

let t = performance.now();
const settings = resolveBatchedOptions({ vad: true, batchSize }) as NonNullable<ReturnType<typeof resolveBatchedOptions>>;
const { windows } = await findWindows(streamAudio(wav), settings.vad);
const vadMs = performance.now() - t;

const reader = new WindowReader(streamAudio(wav));
let melMs = 0;
let encodeMs = 0;
let onnxDecodeMs = 0;
let decodeMs = 0;
let steps = 0;
const size = model.dims.nMels * N_FRAMES;
for (let first = 0; first < windows.length; first += batchSize) {
  const batch = windows.slice(first, first + batchSize);
  t = performance.now();
  const mel = new Float32Array(batch.length * size);
  for (let i = 0; i < batch.length; i++) mel.set(logMelSpectrogram(padOrTrim(await reader.read(batch[i])), model.dims.nMels as 80).data, i * size);
  melMs += performance.now() - t;
  t = performance.now();
  // One window per encoder run, as the pipeline does by default (encoderBatchSize 1).
  const parts = [];
  for (let i = 0; i < batch.length; i++) parts.push((await model.encode(mel.subarray(i * size, (i + 1) * size), 1)).tensor.data as Float32Array);
  const joined = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.forEach((p, i) => joined.set(p, i * p.length));
  const features = { batch: batch.length, tensor: float32(joined, [batch.length, model.dims.nAudioCtx, model.dims.dModel]) };
  encodeMs += performance.now() - t;
  // Time the ONNX calls inside the decode by wrapping the runner.
  const timed = {
    ...model,
    tokenizer: model.tokenizer,
    nTextCtx: model.nTextCtx,
    nAudioCtx: model.nAudioCtx,
    createRunner: (f: typeof features, rows: readonly number[]): DecoderRunner => {
      const inner = model.createRunner(f, rows);
      const wrap = async <T>(p: Promise<T>): Promise<T> => {
        const s = performance.now();
        const v = await p;
        onnxDecodeMs += performance.now() - s;
        steps++;
        return v;
      };
      return {
        get vocabSize() { return inner.vocabSize; },
        get rows() { return inner.rows; },
        prefill: (tk, keep) => wrap(inner.prefill(tk, keep)),
        step: (tk) => wrap(inner.step(tk)),
        reorder: (s) => inner.reorder(s),
      };
    },
  };
  t = performance.now();
  await new DecodingTask(timed, { language: 'en', withoutTimestamps: true, sampleLen: tokens, suppressTokens: [-1, eot] }).run(features);
  decodeMs += performance.now() - t;
}
await reader.close();
const total = vadMs + melMs + encodeMs + decodeMs;
console.log(`${windows.length} windows, batch ${batchSize}, ${tokens} tokens/window, threads ${threadsArg ?? 'default'}`);
console.log(`VAD            ${ms(vadMs)}`);
console.log(`read + mel     ${ms(melMs)}  (${(melMs / windows.length).toFixed(1)} ms/window)`);
console.log(`encoder        ${ms(encodeMs)}  (${(encodeMs / windows.length).toFixed(1)} ms/window)`);
console.log(`decoder ONNX   ${ms(onnxDecodeMs)}  (${(onnxDecodeMs / steps).toFixed(2)} ms/step of ${batchSize} rows, ${steps} steps)`);
console.log(`decoder JS     ${ms(decodeMs - onnxDecodeMs)}  (${((decodeMs - onnxDecodeMs) / (windows.length * tokens)).toFixed(3)} ms/token)`);
console.log(`total          ${ms(total)}`);

// 2. The pipeline itself: the encoder timed around the model's own encode, the decode through the decode profile.
let pipelineEncodeMs = 0;
let encodeRuns = 0;
const encode = model.encode.bind(model);
model.encode = async (melBatch: Float32Array, batch?: number) => {
  const started = performance.now();
  const features = await encode(melBatch, batch);
  pipelineEncodeMs += performance.now() - started;
  encodeRuns++;
  return features;
};
const profile = emptyDecodeProfile();
setDecodeProfile(profile);
t = performance.now();
const result = await transcribe(wav, {
  model,
  vad: true,
  batchSize,
  language: 'en',
  temperature: 0,
  withoutTimestamps: true,
  conditionOnPreviousText: false,
  suppressTokens: [-1, eot],
  sampleLen: tokens,
  compressionRatioThreshold: null,
  logprobThreshold: null,
  noSpeechThreshold: null,
});
const wall = performance.now() - t;
setDecodeProfile(undefined);
const decodeJs = profile.kvMs + profile.suppressMs + profile.timestampMs + profile.samplingMs + profile.bookkeepingMs;
const share = (x: number): string => `${ms(x)}  ${((100 * x) / wall).toFixed(1)}%`;
console.log(`\npipeline: ${result.segments.length} windows, ${profile.tokens} tokens, wall ${ms(wall)}`);
console.log(`encoder        ${share(pipelineEncodeMs)}  (${encodeRuns} runs, ${(pipelineEncodeMs / encodeRuns).toFixed(1)} ms/run)`);
console.log(`first passes   ${share(profile.prefillMs)}  (${profile.prefills} batches, ${(profile.prefillMs / result.segments.length).toFixed(1)} ms/window)`);
console.log(`decoder steps  ${share(profile.ortMs)}  (${profile.steps} steps, ${(profile.ortMs / profile.steps).toFixed(2)} ms/step)`);
console.log(`decode JS      ${share(decodeJs)}  (sampling ${ms(profile.samplingMs)}, filters ${ms(profile.suppressMs + profile.timestampMs)}, KV/feeds ${ms(profile.kvMs)})`);
console.log(`rest           ${share(wall - pipelineEncodeMs - profile.prefillMs - profile.ortMs - decodeJs)}  (VAD, waits for mel, segments)`);
