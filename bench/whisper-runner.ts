/**
 * One runner of bench/whisper.ts, in its own process:
 * `tsx bench/whisper-runner.ts <runner> <modelDir> <wav> <tokensPerWindow> <repeats> [batchSize]`.
 * Every runner forces the same work per window: English, no timestamps, exactly `tokensPerWindow` tokens
 * (end-of-text suppressed until then). Runners:
 * - `transformers.js`: its ASR pipeline as users call it: chunk_length_s 30 with its default stride (chunk_length_s / 6
 *   = 5 s each side, so windows start every 20 s), greedy, on the decoded samples;
 * - `transformers.js-stride0`: the same with stride_length_s 0 (windows every 30 s: the least work it can be asked
 *   to do, shown beside the default so the ratio is not flattered by its overlap);
 * - `moxing`: the sequential openai loop on the decoded samples;
 * - `moxing-batched`: VAD + batched encoder/decoder, reading the WAV file as a stream (decode, VAD, mel timed);
 * - `moxing-q8`: the same batched pipeline on the `_quantized` files (made by `moxing quantize --to q8`);
 * - `moxing-q8-sequential`: the sequential loop on those same `_quantized` files;
 * - `moxing-batched-unfused`, `moxing-q8-unfused`: the batched pipeline with both graphs loaded as exported
 *   (`graphRewrites: false`: the encoder's self-attention not fused, the decoder's cache returned whole at every
 *   step), for the rewrites' before/after in one run.
 * `memory` runs moxing-batched once (for the flat-memory check) and reports only its peak RSS.
 */
import { basename, dirname } from 'node:path';
import { decodeAudio } from '../src/audio/index.js';
import { WhisperModel, transcribe, type TranscribeOptions } from '../src/asr/whisper/index.js';
import { loadWhisperTokenizer } from '../src/text/index.js';
import { emitReport, minTime, peakRssBytes } from './lib.js';

const [runner, modelDir, wav, tokensArg, repeatsArg, batchArg] = process.argv.slice(2);
const tokensPerWindow = Number(tokensArg);
const repeats = Number(repeatsArg);
const batchSize = Number(batchArg ?? 8);
/** Intra-op threads of every session, both libraries (unset: each library's default, all cores). */
const threads = process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined;
const runtime = { intraOpThreads: threads };

async function forced(): Promise<TranscribeOptions> {
  const eot = (await loadWhisperTokenizer(modelDir)).eot;
  return {
    language: 'en',
    temperature: 0,
    withoutTimestamps: true,
    conditionOnPreviousText: false,
    suppressTokens: [-1, eot],
    sampleLen: tokensPerWindow,
    compressionRatioThreshold: null,
    logprobThreshold: null,
    noSpeechThreshold: null,
  };
}

async function moxingSequential(variant: 'fp32' | 'q8'): Promise<Record<string, number>> {
  const samples = await decodeAudio(wav);
  const model = await WhisperModel.load(modelDir, { variant, runtime });
  const options = await forced();
  let tokens = 0;
  let windows = 0;
  const wallMs = await minTime(repeats, async () => {
    const result = await transcribe(samples, { ...options, model });
    tokens = result.segments.reduce((n, s) => n + s.tokens.length, 0);
    windows = result.segments.length;
  });
  return { wallMs, tokens, windows };
}

async function moxingBatched(variant: 'fp32' | 'q8', times = repeats, graphRewrites = true): Promise<Record<string, number>> {
  const model = await WhisperModel.load(modelDir, { variant, runtime, graphRewrites });
  const options = await forced();
  let tokens = 0;
  let windows = 0;
  // The file itself: decoding, VAD and mel are inside the timed work (they stream with the model runs).
  const wallMs = await minTime(times, async () => {
    const result = await transcribe(wav, { ...options, model, vad: true, batchSize });
    tokens = result.segments.reduce((n, s) => n + s.tokens.length, 0);
    windows = result.segments.length;
  });
  return { wallMs, tokens, windows };
}

/** Windows transformers.js cuts `samples` into (its chunking loop: a window every chunk - 2 * stride). */
function transformersJsWindows(samples: number, strideSeconds: number): number {
  const window = 30 * 16_000;
  const jump = window - 2 * strideSeconds * 16_000;
  let windows = 1;
  for (let offset = 0; offset + window < samples; offset += jump) windows++;
  return windows;
}

async function transformersJs(strideSeconds: number): Promise<Record<string, number>> {
  const samples = await decodeAudio(wav);
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(modelDir)}/`;
  const asr = await pipeline('automatic-speech-recognition', basename(modelDir), {
    dtype: 'fp32',
    device: 'cpu',
    ...(threads ? { session_options: { intraOpNumThreads: threads } } : {}),
  });
  const windows = transformersJsWindows(samples.length, strideSeconds);
  const wallMs = await minTime(repeats, async () => {
    await asr(samples, {
      chunk_length_s: 30,
      stride_length_s: strideSeconds,
      // Accepted for parity; transformers.js 4 decodes the chunks one after another whatever the batch size.
      batch_size: batchSize,
      language: 'en',
      task: 'transcribe',
      return_timestamps: false,
      max_new_tokens: tokensPerWindow,
      min_new_tokens: tokensPerWindow,
    } as Record<string, unknown>);
  });
  // min_new_tokens == max_new_tokens: every window decodes exactly tokensPerWindow tokens.
  return { wallMs, tokens: windows * tokensPerWindow, windows };
}

const measured =
  runner === 'transformers.js'
    ? await transformersJs(30 / 6)
    : runner === 'transformers.js-stride0'
      ? await transformersJs(0)
    : runner === 'moxing'
      ? await moxingSequential('fp32')
    : runner === 'moxing-q8-sequential'
      ? await moxingSequential('q8')
      : runner === 'moxing-batched'
        ? await moxingBatched('fp32')
        : runner === 'moxing-q8'
          ? await moxingBatched('q8')
        : runner === 'moxing-batched-unfused'
          ? await moxingBatched('fp32', repeats, false)
        : runner === 'moxing-q8-unfused'
          ? await moxingBatched('q8', repeats, false)
          : runner === 'memory'
            ? await moxingBatched('fp32', 1)
            : (() => {
                throw new Error(`unknown runner ${runner}`);
              })();
emitReport({ runner, wallMs: measured.wallMs, peakRssBytes: peakRssBytes(), extra: { tokens: measured.tokens, windows: measured.windows } });
