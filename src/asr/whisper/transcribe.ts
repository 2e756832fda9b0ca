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
import {
  DEFAULT_TRANSCRIBE,
  checkEnglishOnly,
  givenLanguage,
  resolveTranscribeOptions,
  seekClips,
  windowDecodingOptions,
  type TranscribeCheckpoint,
  type TranscribeOptions,
  type TranscribeSettings,
} from './transcribe-options.js';
import { cutWindow } from './window-segments.js';
import { getEnd } from './timing.js';
import { decodeWithFallback, isSilentWindow, logprobsOf, promptTokens, toSegment, type TranscribeInput, type TranscriptionModel } from './window-decode.js';
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
  callbacks: Pick<TranscribeOptions, 'onProgress' | 'onLanguage' | 'windowDecoder' | 'onCheckpoint' | 'resumeFrom'> = {},
): AsyncGenerator<Segment, TranscriptionResult, undefined> {
  const audio = paddedMel(model, samples);
  const resume = callbacks.resumeFrom;
  const { language, languageProbs, firstWindow } = resume ? resumedLanguage(model, s, resume, audio, callbacks) : await settleLanguage(model, s, audio, callbacks);
  const wordTiming = s.wordTimestamps ? wordTimingOf(model) : undefined;
  const alignmentHeads = wordTiming ? resolveAlignmentHeads(s.alignmentHeads, wordTiming) : [];
  const reportProgress = (seekFrames: number): void =>
    callbacks.onProgress?.({ doneSeconds: (Math.min(audio.contentFrames, seekFrames) * HOP_LENGTH) / SAMPLE_RATE, totalSeconds: audio.contentDuration });
  reportProgress(resume?.seek ?? 0);

  const clips = seekClips(s.clipTimestamps, audio.contentFrames);
  const geometry = timestampGrid(model);
  const sampler = countedRandom(s.seed, resume?.randomDraws ?? 0);
  const random = sampler.random;
  const text = resume ? resumedText(model, s, resume) : startText(model, s);
  const cursor = resume ? { clipIndex: resume.clipIndex, seek: resume.seek } : { clipIndex: 0, seek: clips[0][0] };
  let lastSpeechTimestamp = resume?.lastSpeechTimestamp ?? 0;
  // After each window: the state the next one starts from, which resumeFrom restores.
  const checkpoint = (): void =>
    callbacks.onCheckpoint?.({
      version: 1,
      contentFrames: audio.contentFrames,
      seek: cursor.seek,
      clipIndex: cursor.clipIndex,
      language,
      languageProbs: languageProbs ?? null,
      tokens: [...text.tokens],
      promptResetSince: text.promptResetSince,
      segments: [...text.segments],
      lastSpeechTimestamp,
      randomDraws: sampler.draws(),
    });
  for (let clipEnd = enterClip(clips, cursor); clipEnd !== undefined; clipEnd = enterClip(clips, cursor)) {
    const windowSeek = cursor.seek;
    const timeOffset = (windowSeek * HOP_LENGTH) / SAMPLE_RATE;
    const segmentFrames = Math.min(N_FRAMES, audio.contentFrames - windowSeek, clipEnd - windowSeek);
    const features = windowSeek === 0 && segmentFrames === N_FRAMES && firstWindow ? firstWindow : await audio.encode(windowSeek, segmentFrames);

    const prompt = windowPrompt(text, s.carryInitialPrompt);
    const decode = callbacks.windowDecoder?.decode.bind(callbacks.windowDecoder) ?? decodeWithFallback;
    const [result] = await decode(model, features, (t) => windowDecodingOptions(s, language, t, prompt), s, random);
    if (isSilentWindow(result, s)) {
      cursor.seek += segmentFrames; // fast-forward to the next window
      reportProgress(cursor.seek);
      checkpoint();
      continue;
    }

    const cut = cutWindow(result.tokens, model.tokenizer.timestampBegin, { timeOffset, segmentFrames, ...geometry });
    cursor.seek += cut.seekFrames;
    let drafts: WindowSegmentDraft[] = cut.segments.map((piece) => ({ start: piece.start, end: piece.end, tokens: piece.tokens, words: [] }));
    if (wordTiming) {
      const timed = await timeWords(drafts, {
        model: wordTiming, tokenizer: model.tokenizer, language, settings: s, features, heads: alignmentHeads,
        window: { seek: cursor.seek, windowSeek, timeOffset, segmentFrames, contentFrames: audio.contentFrames, singleTimestampEnding: cut.singleTimestampEnding },
        lastSpeechTimestamp,
      });
      cursor.seek = timed.seek;
      lastSpeechTimestamp = timed.lastSpeechTimestamp;
      if (timed.drafts === undefined) {
        reportProgress(cursor.seek);
        checkpoint();
        continue;
      }
      drafts = timed.drafts;
    }
    const current = windowSegments(model, drafts, { firstId: text.segments.length, windowSeek, withWords: wordTiming !== undefined, withLogprobs: s.tokenLogprobs }, result);
    addWindow(text, current, result, s);
    checkpoint();
    for (const segment of current) yield segment;
    reportProgress(cursor.seek);
  }

  return {
    text: decodeText(model.tokenizer, text.tokens.slice(text.initialPromptTokens.length)),
    segments: text.segments,
    language,
    duration: audio.contentDuration,
    ...(languageProbs ? { languageProbs } : {}),
  };
}

/** The log-mel of the whole input plus 30 s of padding, how much of it is audio, and its windows' encoder. */
interface PaddedMel {
  readonly contentFrames: number;
  readonly contentDuration: number;
  encode(offset: number, frames: number): Promise<AudioFeatures>;
}

function paddedMel(model: TranscriptionModel, samples: Float32Array): PaddedMel {
  const mel = logMelSpectrogram(samples, model.dims.nMels as MelBins, { padding: N_SAMPLES });
  const contentFrames = mel.nFrames - N_FRAMES;
  return {
    contentFrames,
    contentDuration: (contentFrames * HOP_LENGTH) / SAMPLE_RATE,
    encode: (offset, frames) => model.encode(melWindow(mel, offset, frames).data),
  };
}

/**
 * The language given, or detected on the first 30 s of the padded log-mel (kept: it is the first window when
 * the audio fills it); checked against the model and reported.
 */
async function settleLanguage(
  model: TranscriptionModel,
  s: TranscribeSettings,
  audio: PaddedMel,
  callbacks: Pick<TranscribeOptions, 'onLanguage'>,
): Promise<{ language: string; languageProbs: Readonly<Record<string, number>> | undefined; firstWindow: AudioFeatures | undefined }> {
  let language = givenLanguage(s, model);
  let languageProbs: Readonly<Record<string, number>> | undefined;
  let firstWindow: AudioFeatures | undefined;
  if (language === undefined) {
    firstWindow = await audio.encode(0, N_FRAMES);
    const [detected] = await detectLanguage(model.createRunner(firstWindow, [0]), model.tokenizer.sot, model.tokenizer.languageTokens);
    language = detected.language;
    languageProbs = detected.probabilities;
  }
  checkEnglishOnly(model, language, s.task);
  callbacks.onLanguage?.(language, languageProbs);
  return { language, languageProbs, firstWindow };
}

/** The language a checkpoint settled, checked against the model and the audio, and reported as a detection would be. */
function resumedLanguage(
  model: TranscriptionModel,
  s: TranscribeSettings,
  resume: TranscribeCheckpoint,
  audio: PaddedMel,
  callbacks: Pick<TranscribeOptions, 'onLanguage'>,
): { language: string; languageProbs: Readonly<Record<string, number>> | undefined; firstWindow: undefined } {
  if (resume.version !== 1 || resume.contentFrames !== audio.contentFrames) {
    throw new MoxingError('BAD_ARGUMENT', 'resumeFrom is a checkpoint of other audio (or another version): resume with the audio and options it was made with');
  }
  const given = givenLanguage(s, model);
  if (given !== undefined && given !== resume.language) throw new MoxingError('BAD_ARGUMENT', `resumeFrom was made in language "${resume.language}", not "${given}"`);
  checkEnglishOnly(model, resume.language, s.task);
  const languageProbs = resume.languageProbs ?? undefined;
  callbacks.onLanguage?.(resume.language, languageProbs);
  return { language: resume.language, languageProbs, firstWindow: undefined };
}

/** The sampler, counting its draws; a seeded one resumes where a checkpoint left it (its draws replayed). */
function countedRandom(seed: number | undefined, skip: number): { random: () => number; draws: () => number } {
  const base = seed === undefined ? Math.random : seededRandom(seed);
  if (seed !== undefined) for (let i = 0; i < skip; i++) base();
  let draws = skip;
  return {
    random: () => {
      draws++;
      return base();
    },
    draws: () => draws,
  };
}

/** The timestamp grid: mel frames per timestamp step (2) and its seconds (0.02 s). */
function timestampGrid(model: TranscriptionModel): { inputStride: number; timePrecision: number } {
  const inputStride = N_FRAMES / model.dims.nAudioCtx;
  return { inputStride, timePrecision: (inputStride * HOP_LENGTH) / SAMPLE_RATE };
}

/**
 * Moves `cursor.seek` into the current clip, past the clips it has left behind; returns that clip's end, or
 * undefined after the last clip.
 */
function enterClip(clips: readonly (readonly [number, number])[], cursor: { clipIndex: number; seek: number }): number | undefined {
  while (cursor.clipIndex < clips.length) {
    const [clipStart, clipEnd] = clips[cursor.clipIndex];
    if (cursor.seek < clipStart) cursor.seek = clipStart;
    if (cursor.seek < clipEnd) return clipEnd;
    cursor.clipIndex++;
    if (cursor.clipIndex < clips.length) cursor.seek = clips[cursor.clipIndex][0];
  }
  return undefined;
}

/** One window's drafts as segments; an instantaneous or textless one stays, emptied (openai keeps its place and id). */
function windowSegments(
  model: TranscriptionModel,
  drafts: readonly WindowSegmentDraft[],
  at: { firstId: number; windowSeek: number; withWords: boolean; withLogprobs: boolean },
  result: Parameters<typeof toSegment>[1],
): Segment[] {
  const { tokenizer } = model;
  let from = 0; // the drafts are consecutive slices of the window's tokens
  return drafts.map((piece, i) => {
    const text = tokenizer.decode(piece.tokens.filter((t) => t < tokenizer.eot));
    const empty = piece.start === piece.end || pyStrip(text) === '';
    const logprobs = at.withLogprobs ? { tokenLogprobs: empty ? [] : logprobsOf(result, from, piece.tokens) } : {};
    from += piece.tokens.length;
    const place = { id: at.firstId + i, seek: at.windowSeek, start: piece.start, end: piece.end, text: empty ? '' : text, tokens: empty ? [] : piece.tokens, ...logprobs };
    return toSegment(at.withWords ? { ...place, words: empty ? [] : piece.words } : place, result);
  });
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

/** The text so far: its tokens (the initial prompt's first) and segments, and where the prompts may draw from. */
interface TextSoFar {
  readonly tokens: number[];
  readonly segments: Segment[];
  readonly initialPromptTokens: readonly number[];
  /** Index in `tokens` where the text a prompt may use begins (after a hot decode or unconditioned). */
  promptResetSince: number;
  /** Room left for carried text next to the initial prompt (openai's `remaining_prompt_length`). */
  readonly remainingPromptLength: number;
}

function startText(model: TranscriptionModel, s: TranscribeSettings): TextSoFar {
  const initialPromptTokens = promptTokens(model.tokenizer, s.initialPrompt) ?? [];
  return {
    tokens: [...initialPromptTokens],
    segments: [],
    initialPromptTokens,
    promptResetSince: 0,
    remainingPromptLength: Math.floor(model.dims.nTextCtx / 2) - 1 - initialPromptTokens.length,
  };
}

/** The text a checkpoint holds, under the same initial prompt. */
function resumedText(model: TranscriptionModel, s: TranscribeSettings, resume: TranscribeCheckpoint): TextSoFar {
  const fresh = startText(model, s);
  if (fresh.initialPromptTokens.some((t, i) => resume.tokens[i] !== t)) throw new MoxingError('BAD_ARGUMENT', 'resumeFrom was made with another initialPrompt');
  return { ...fresh, tokens: [...resume.tokens], segments: [...resume.segments], promptResetSince: resume.promptResetSince };
}

/** openai's prompt of the next window: the text since the last reset, or the initial prompt kept ahead of the latest text. */
function windowPrompt(text: TextSoFar, carry: boolean): number[] {
  if (!carry) return text.tokens.slice(text.promptResetSince);
  const rest = text.tokens.slice(Math.max(text.initialPromptTokens.length, text.promptResetSince));
  return [...text.initialPromptTokens, ...lastItems(rest, text.remainingPromptLength)];
}

/** Adds a window's segments to the text; a high temperature means the context misled the model: stop feeding it. */
function addWindow(text: TextSoFar, current: readonly Segment[], result: { readonly temperature: number }, s: TranscribeSettings): void {
  text.segments.push(...current);
  for (const segment of current) text.tokens.push(...segment.tokens);
  if (!s.conditionOnPreviousText || result.temperature > 0.5) text.promptResetSince = text.tokens.length;
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
