/**
 * Long-form transcription, as openai/whisper `transcribe()`: the log-mel of the whole input (plus 30 s of
 * padding), then sequential 30 s windows whose timestamp tokens decide where the next one starts;
 * temperature fallback on repetitive or improbable decodes; windows judged silent are skipped; each window
 * is prompted with the text decoded before it. Segments are yielded as each window is decoded.
 */
import { HOP_LENGTH, N_FRAMES, N_SAMPLES, SAMPLE_RATE, decodeAudio, logMelSpectrogram, melWindow, type MelBins } from '../../audio/index.js';
import { MoxingError } from '../../errors.js';
import { pyStrip } from '../../text/index.js';
import type { Segment, TranscriptionResult } from '../types.js';
import { transcribeBatchedStream } from './batched/index.js';
import { resolveBatchedOptions, type BatchedOptions } from './batched/options.js';
import { decodeText } from './decode.js';
import type { AudioFeatures } from './encoder.js';
import { detectLanguage } from './language.js';
import { WhisperModel } from './model.js';
import { lastItems, pyRound } from '../../text/python.js';
import { seededRandom } from './search.js';
import { DEFAULT_TRANSCRIBE, checkEnglishOnly, givenLanguage, resolveTranscribeOptions, seekClips, windowDecodingOptions, type TranscribeOptions, type TranscribeSettings } from './transcribe-options.js';
import { cutWindow } from './window-segments.js';
import { getEnd } from './timing.js';
import { decodeWithFallback, isSilentWindow, promptTokens, toSegment, type TranscribeInput, type TranscriptionModel } from './window-decode.js';
import { resolveAlignmentHeads, skipHallucinations, timeWindowWords, type WindowSegmentDraft, type WordTimingModel } from './word-timestamps.js';

/**
 * Transcribes `input`, yielding segments as each 30 s window is decoded; the generator's return value is
 * the whole result.
 */
export async function* transcribeStream(input: TranscribeInput, options: TranscribeOptions & BatchedOptions = {}): AsyncGenerator<Segment, TranscriptionResult, undefined> {
  // `vad` or `batchSize` choose the batched pipeline (batched.ts).
  if (resolveBatchedOptions(options)) return yield* transcribeBatchedStream(input, options);
  const settings = resolveTranscribeOptions(options);
  const model =
    options.model instanceof WhisperModel
      ? options.model
      : await WhisperModel.load(options.model ?? DEFAULT_TRANSCRIBE.model, { variant: options.variant, runtime: options.runtime, hub: options.hub, timestamped: settings.wordTimestamps });
  const samples = input instanceof Float32Array ? input : await decodeAudio(input, { allowTruncated: settings.allowTruncated, onTruncated: options.onTruncated });
  return yield* transcribeSamples(model, samples, settings, options);
}

/** Transcribes `input` into segments, text and language (openai `transcribe()`). */
export async function transcribe(input: TranscribeInput, options: TranscribeOptions & BatchedOptions = {}): Promise<TranscriptionResult> {
  const stream = transcribeStream(input, options);
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
  }
}

/** The loop of openai `transcribe()` over 16 kHz mono `samples` with a loaded model. */
export async function* transcribeSamples(
  model: TranscriptionModel,
  samples: Float32Array,
  s: TranscribeSettings,
  callbacks: Pick<TranscribeOptions, 'onProgress' | 'onLanguage' | 'windowDecoder'> = {},
): AsyncGenerator<Segment, TranscriptionResult, undefined> {
  const { tokenizer, dims } = model;
  const mel = logMelSpectrogram(samples, dims.nMels as MelBins, { padding: N_SAMPLES });
  const contentFrames = mel.nFrames - N_FRAMES;
  const contentDuration = (contentFrames * HOP_LENGTH) / SAMPLE_RATE;
  const encode = (offset: number, frames: number): Promise<AudioFeatures> => model.encode(melWindow(mel, offset, frames).data);

  let language = givenLanguage(s, model);
  let languageProbs: Readonly<Record<string, number>> | undefined;
  // The first 30 s of the padded log-mel: the same as the first window only when the audio fills it.
  let firstWindow: AudioFeatures | undefined;
  if (language === undefined) {
    firstWindow = await encode(0, N_FRAMES);
    const [detected] = await detectLanguage(model.createRunner(firstWindow, [0]), tokenizer.sot, tokenizer.languageTokens);
    language = detected.language;
    languageProbs = detected.probabilities;
  }
  checkEnglishOnly(model, language, s.task);
  callbacks.onLanguage?.(language, languageProbs);
  const wordTiming = s.wordTimestamps ? wordTimingOf(model) : undefined;
  const alignmentHeads = wordTiming ? resolveAlignmentHeads(s.alignmentHeads, wordTiming) : [];
  let lastSpeechTimestamp = 0;
  const reportProgress = (seekFrames: number): void => callbacks.onProgress?.({ doneSeconds: (Math.min(contentFrames, seekFrames) * HOP_LENGTH) / SAMPLE_RATE, totalSeconds: contentDuration });
  reportProgress(0);

  const clips = seekClips(s.clipTimestamps, contentFrames);
  const inputStride = N_FRAMES / dims.nAudioCtx; // mel frames per timestamp step: 2
  const timePrecision = (inputStride * HOP_LENGTH) / SAMPLE_RATE; // 0.02 s
  const random = s.seed === undefined ? Math.random : seededRandom(s.seed);
  const allTokens: number[] = [];
  const allSegments: Segment[] = [];
  let promptResetSince = 0;
  let remainingPromptLength = Math.floor(dims.nTextCtx / 2) - 1;
  const initialPromptTokens = promptTokens(tokenizer, s.initialPrompt) ?? [];
  allTokens.push(...initialPromptTokens);
  remainingPromptLength -= initialPromptTokens.length;

  let clipIndex = 0;
  let seek = clips[0][0];
  while (clipIndex < clips.length) {
    const [clipStart, clipEnd] = clips[clipIndex];
    if (seek < clipStart) seek = clipStart;
    if (seek >= clipEnd) {
      clipIndex++;
      if (clipIndex < clips.length) seek = clips[clipIndex][0];
      continue;
    }
    const timeOffset = (seek * HOP_LENGTH) / SAMPLE_RATE;
    const segmentFrames = Math.min(N_FRAMES, contentFrames - seek, clipEnd - seek);
    const features = seek === 0 && segmentFrames === N_FRAMES && firstWindow ? firstWindow : await encode(seek, segmentFrames);

    const prompt = windowPrompt(allTokens, { initialPromptTokens, promptResetSince, remainingPromptLength, carry: s.carryInitialPrompt });
    const decode = callbacks.windowDecoder?.decode.bind(callbacks.windowDecoder) ?? decodeWithFallback;
    const [result] = await decode(model, features, (t) => windowDecodingOptions(s, language, t, prompt), s, random);
    if (isSilentWindow(result, s)) {
      seek += segmentFrames; // fast-forward to the next window
      reportProgress(seek);
      continue;
    }

    const cut = cutWindow(result.tokens, tokenizer.timestampBegin, { timeOffset, segmentFrames, inputStride, timePrecision });
    const windowSeek = seek;
    seek += cut.seekFrames;
    let drafts: WindowSegmentDraft[] = cut.segments.map((piece) => ({ start: piece.start, end: piece.end, tokens: piece.tokens, words: [] }));
    if (wordTiming) {
      const timed = await timeWords(drafts, {
        model: wordTiming, tokenizer, language, settings: s, features, heads: alignmentHeads,
        window: { seek, windowSeek, timeOffset, segmentFrames, contentFrames, singleTimestampEnding: cut.singleTimestampEnding },
        lastSpeechTimestamp,
      });
      seek = timed.seek;
      lastSpeechTimestamp = timed.lastSpeechTimestamp;
      if (timed.drafts === undefined) {
        reportProgress(seek);
        continue;
      }
      drafts = timed.drafts;
    }
    const current: Segment[] = drafts.map((piece, i) => {
      const text = tokenizer.decode(piece.tokens.filter((t) => t < tokenizer.eot));
      // An instantaneous or textless segment stays, emptied (openai keeps its place and id).
      const empty = piece.start === piece.end || pyStrip(text) === '';
      const place = { id: allSegments.length + i, seek: windowSeek, start: piece.start, end: piece.end, text: empty ? '' : text, tokens: empty ? [] : piece.tokens };
      return toSegment(wordTiming ? { ...place, words: empty ? [] : piece.words } : place, result);
    });
    allSegments.push(...current);
    for (const segment of current) allTokens.push(...segment.tokens);
    // A high temperature means the context misled the model: stop feeding it.
    if (!s.conditionOnPreviousText || result.temperature > 0.5) promptResetSince = allTokens.length;

    for (const segment of current) yield segment;
    reportProgress(seek);
  }

  return {
    text: decodeText(tokenizer, allTokens.slice(initialPromptTokens.length)),
    segments: allSegments,
    language,
    duration: contentDuration,
    ...(languageProbs ? { languageProbs } : {}),
  };
}

/** Where a decoded window sits, for its word timing. */
interface WindowPlace {
  /** Where the next window starts, as the timestamp tokens put it. */
  readonly seek: number;
  readonly windowSeek: number;
  readonly timeOffset: number;
  readonly segmentFrames: number;
  readonly contentFrames: number;
  readonly singleTimestampEnding: boolean;
}

/**
 * openai's word-timestamp pass over one window's segments: the words' times, the next seek moved to after the
 * last word, and the hallucination rule. `drafts` is undefined when the rule drops the whole window.
 */
async function timeWords(
  drafts: WindowSegmentDraft[],
  c: {
    model: WordTimingModel;
    tokenizer: TranscriptionModel['tokenizer'];
    language: string;
    settings: TranscribeSettings;
    features: AudioFeatures;
    heads: ReturnType<typeof resolveAlignmentHeads>;
    window: WindowPlace;
    lastSpeechTimestamp: number;
  },
): Promise<{ drafts: WindowSegmentDraft[] | undefined; seek: number; lastSpeechTimestamp: number }> {
  const { tokenizer, language, settings: s, window: w } = c;
  let seek = w.seek;
  await timeWindowWords(drafts, {
    model: c.model,
    features: c.features,
    heads: c.heads,
    sotSequence: tokenizer.sotSequence(language, s.task),
    noTimestamps: tokenizer.noTimestamps,
    eot: tokenizer.eot,
    splitToWordTokens: (tokens) => (tokenizer.splitToWordTokens as NonNullable<typeof tokenizer.splitToWordTokens>)(tokens, language),
    numFrames: w.segmentFrames,
    seekFrames: w.windowSeek,
    lastSpeechTimestamp: c.lastSpeechTimestamp,
    prependPunctuations: s.prependPunctuations,
    appendPunctuations: s.appendPunctuations,
  });
  // The window resumes after its last word rather than at its last timestamp token.
  if (!w.singleTimestampEnding) {
    const lastWordEnd = getEnd(drafts);
    if (lastWordEnd !== undefined && lastWordEnd > w.timeOffset) seek = pyRound(lastWordEnd * 100);
  }
  let kept = drafts;
  if (s.hallucinationSilenceThreshold !== null) {
    const skipped = skipHallucinations(drafts, {
      threshold: s.hallucinationSilenceThreshold,
      seek,
      previousSeek: w.windowSeek,
      segmentSize: w.segmentFrames,
      contentFrames: w.contentFrames,
      singleTimestampEnding: w.singleTimestampEnding,
      lastSpeechTimestamp: c.lastSpeechTimestamp,
    });
    seek = skipped.seek;
    if (skipped.dropWindow) return { drafts: undefined, seek, lastSpeechTimestamp: c.lastSpeechTimestamp };
    kept = drafts.slice(0, skipped.keep);
  }
  return { drafts: kept, seek, lastSpeechTimestamp: getEnd(kept) ?? c.lastSpeechTimestamp };
}

/** Where the window prompt comes from: the tokens so far, the initial prompt's, and the last reset. */
interface PromptState {
  readonly initialPromptTokens: readonly number[];
  /** Index in the tokens so far where the text a prompt may use begins (after a hot decode or unconditioned). */
  readonly promptResetSince: number;
  /** Room left for carried text next to the initial prompt (openai's `remaining_prompt_length`). */
  readonly remainingPromptLength: number;
  readonly carry: boolean;
}

/** openai's prompt of the next window: the text since the last reset, or the initial prompt kept ahead of the latest text. */
function windowPrompt(allTokens: readonly number[], p: PromptState): number[] {
  if (!p.carry) return allTokens.slice(p.promptResetSince);
  const rest = allTokens.slice(Math.max(p.initialPromptTokens.length, p.promptResetSince));
  return [...p.initialPromptTokens, ...lastItems(rest, p.remainingPromptLength)];
}

/** The model's word-timing side, checked up front: a clear error before any decoding when it has none. */
function wordTimingOf(model: TranscriptionModel): WordTimingModel {
  const { timingPass, requireCrossAttentions, decoderLayers, decoderHeads } = model;
  if (!timingPass || !requireCrossAttentions || decoderLayers === undefined || decoderHeads === undefined || !model.tokenizer.splitToWordTokens) {
    throw new MoxingError('BAD_ARGUMENT', 'this model cannot give word timestamps (no timestamped decoder); load a Whisper export with WhisperModel.load(ref, { timestamped: true })');
  }
  model.requireCrossAttentions?.();
  return model as WordTimingModel;
}
