/**
 * Batched long-form transcription, as faster-whisper's `BatchedInferencePipeline` and WhisperX: Silero VAD
 * finds speech, WhisperX's `merge_chunks` groups it into windows of at most 30 s, the encoder runs on
 * [batchSize, nMels, 3000] and the decoder decodes every window of a batch together (one KV cache, a row
 * leaving the batch at its end of text).
 *
 * Each window is decoded without timestamps and gives one segment spanning the window, as faster-whisper's
 * batched mode does by default: timestamp tokens would make rows of a batch end and re-seek at different
 * places, which is the sequential loop's job. Windows do not see each other's text (they are decoded at
 * once): `initialPrompt` primes every window (as `carryInitialPrompt` asks), and the options only the
 * sequential loop can follow (`conditionOnPreviousText: true`, `clipTimestamps`, `wordTimestamps`) are
 * refused with BAD_ARGUMENT (options.ts `rejectSequentialOnly`), never ignored.
 *
 * Memory is flat in the input's length: a file is streamed twice (once through the VAD, keeping 31
 * probabilities a second; once to read the windows), never held whole. Reading and mel of the next batch
 * run in a worker thread (batched/prefetch.ts) while the model runs on the current one: ONNX Runtime holds
 * the main thread for the length of each run, so only another thread can overlap it.
 */
import { HOP_LENGTH, N_SAMPLES, SAMPLE_RATE, streamAudio, type MelBins } from '../../../audio/index.js';
import { pyStrip } from '../../../text/index.js';
import type { Segment, TranscriptionResult } from '../../types.js';
import { DEFAULT_BATCHED, rejectSequentialOnly, resolveBatchedOptions, type BatchedOptions, type BatchedSettings } from './options.js';
import { aheadByOne, melBatch, type MelBatch, type WindowReader } from './mel.js';
import { MelWorker } from './prefetch.js';
import { findWindows, windowSeconds, type AudioWindow } from './windows.js';
import { decodeText, type DecodingOptions } from '../decode.js';
import { concatFeatures, type AudioFeatures } from '../encoder.js';
import { detectLanguage } from '../language.js';
import { WhisperModel } from '../model.js';
import { seededRandom } from '../search.js';
import { DEFAULT_TRANSCRIBE, checkEnglishOnly, givenLanguage, resolveTranscribeOptions, windowDecodingOptions, type TranscribeOptions, type TranscribeSettings } from '../transcribe-options.js';
import { decodeWithFallback, isSilentWindow, promptTokens, toSegment, type TranscribeInput, type TranscriptionModel } from '../window-decode.js';

/** What the batched pipeline needs of a model: TranscriptionModel with a batch-capable encoder. */
export type BatchedModel = Omit<TranscriptionModel, 'encode'> & {
  /** Encodes `batch` mel windows laid out [batch, nMels, 3000]. */
  encode(mel: Float32Array, batch: number): Promise<AudioFeatures>;
};

/**
 * Windows to decode and where their mel comes from: a reader of their samples (mel computed on this
 * thread, the next batch's started before the model runs), or the batches already on their way (MelWorker
 * with aheadByOne). The caller closes the reader or the worker.
 */
export type WindowSource = {
  readonly windows: readonly AudioWindow[];
  readonly totalSamples: number;
} & ({ readonly reader: WindowReader } | { readonly batches: AsyncIterable<MelBatch> });

/** transcribeStream's batched branch: loads the model, finds the windows, decodes them in batches. */
export async function* transcribeBatchedStream(
  input: TranscribeInput,
  options: TranscribeOptions & BatchedOptions,
): AsyncGenerator<Segment, TranscriptionResult, undefined> {
  const batched = resolveBatchedOptions({ ...options, batchSize: options.batchSize ?? DEFAULT_BATCHED.batchSize }) as BatchedSettings;
  const settings = resolveTranscribeOptions(options);
  rejectSequentialOnly(options);
  const model =
    options.model instanceof WhisperModel
      ? options.model
      : await WhisperModel.load(options.model ?? DEFAULT_TRANSCRIBE.model, { variant: options.variant, runtime: options.runtime, hub: options.hub });
  // The VAD pass reads the whole input first, so it is the one that reports truncation (the worker reads again, silently).
  const { allowTruncated } = settings;
  const chunks = input instanceof Float32Array ? inMemoryChunks(input) : streamAudio(input, { allowTruncated, onTruncated: options.onTruncated });
  // Started before the VAD pass, so that its start-up (a thread, the audio modules) overlaps that pass.
  const worker = new MelWorker(input, model.dims.nMels as MelBins, { allowTruncated });
  try {
    const { windows, totalSamples } = await findWindows(chunks, batched.vad);
    const batches = aheadByOne(windows, batched.batchSize, (batch) => worker.prepare(batch));
    return yield* transcribeWindows(model, { windows, totalSamples, batches }, settings, batched, options);
  } finally {
    // Also when the consumer stops early or decoding throws: the worker stops reading and ends.
    await worker.close();
  }
}

async function* inMemoryChunks(samples: Float32Array): AsyncGenerator<Float32Array> {
  for (let s = 0; s < samples.length; s += N_SAMPLES) yield samples.subarray(s, s + N_SAMPLES);
}

/** The batched loop over `source.windows` with a loaded model; yields one segment per window with text. */
export async function* transcribeWindows(
  model: BatchedModel,
  source: WindowSource,
  s: TranscribeSettings,
  b: BatchedSettings,
  callbacks: Pick<TranscribeOptions, 'onProgress' | 'onLanguage' | 'windowDecoder'> = {},
): AsyncGenerator<Segment, TranscriptionResult, undefined> {
  const { tokenizer, dims } = model;
  const { windows } = source;
  const totalSeconds = source.totalSamples / SAMPLE_RATE;
  const batches =
    'batches' in source
      ? source.batches
      : aheadByOne(windows, b.batchSize, (batch) => melBatch(batch, dims.nMels as MelBins, (w) => source.reader.read(w)));

  // Without speech there is nothing to detect a language from.
  let language = givenLanguage(s, model) ?? (windows.length === 0 ? 'en' : undefined);
  let languageProbs: Readonly<Record<string, number>> | undefined;
  if (language !== undefined) announce(language);
  function announce(code: string): void {
    checkEnglishOnly(model, code, s.task);
    callbacks.onLanguage?.(code, languageProbs);
    callbacks.onProgress?.({ doneSeconds: 0, totalSeconds });
  }

  const random = s.seed === undefined ? Math.random : seededRandom(s.seed);
  const prompt = promptTokens(tokenizer, s.initialPrompt);
  // One segment per window: no timestamp tokens (see the file header).
  const optionsAt = (t: number): DecodingOptions => ({ ...windowDecodingOptions(s, language, t, prompt), withoutTimestamps: true });

  const segments: Segment[] = [];
  for await (const batch of batches) {
    const features = await encodeBatch(model, batch.mel, batch.windows.length, b.encoderBatchSize);
    if (language === undefined) {
      const [detected] = await detectLanguage(model.createRunner(features, [0]), tokenizer.sot, tokenizer.languageTokens);
      language = detected.language;
      languageProbs = detected.probabilities;
      announce(language);
    }
    const decode = callbacks.windowDecoder?.decode.bind(callbacks.windowDecoder) ?? decodeWithFallback;
    const results = await decode(model, features, optionsAt, s, random);
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      const window = batch.windows[i];
      // A window judged silent gives no segment (openai's no-speech rule).
      if (isSilentWindow(result, s)) continue;
      const tokens = result.tokens.filter((t) => t < tokenizer.eot);
      const text = tokenizer.decode(tokens);
      if (pyStrip(text) === '') continue;
      const logprobs = s.tokenLogprobs ? { tokenLogprobs: result.tokenLogprobs.filter((_, j) => result.tokens[j] < tokenizer.eot) } : {};
      const place = { id: segments.length, seek: Math.round(window.start / HOP_LENGTH), start: windowSeconds(window.start), end: windowSeconds(window.end), text, tokens, ...logprobs };
      const segment = toSegment(place, result);
      segments.push(segment);
      yield segment;
    }
    const done = batch.windows[batch.windows.length - 1].end;
    callbacks.onProgress?.({ doneSeconds: Math.min(totalSeconds, done / SAMPLE_RATE), totalSeconds });
  }
  return {
    text: decodeText(tokenizer, segments.flatMap((seg) => seg.tokens)),
    segments,
    language: language ?? 'en',
    duration: totalSeconds,
    ...(languageProbs ? { languageProbs } : {}),
  };
}

/** Encodes `windows` mel windows `per` at a time into one [windows, nAudioCtx, dModel] batch for the decoder. */
async function encodeBatch(model: BatchedModel, mel: Float32Array, windows: number, per: number): Promise<AudioFeatures> {
  if (per >= windows) return model.encode(mel, windows);
  const size = mel.length / windows;
  const parts: AudioFeatures[] = [];
  for (let first = 0; first < windows; first += per) {
    const n = Math.min(per, windows - first);
    parts.push(await model.encode(mel.subarray(first * size, (first + n) * size), n));
  }
  return concatFeatures(parts);
}
