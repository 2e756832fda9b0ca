/**
 * The word-level side of `moxing transcribe`: checks of the word and subtitle-layout flags (openai's CLI rules),
 * forced alignment of the result (`--align`, WhisperX's method), and CTC models given as `--model` (wav2vec2,
 * HuBERT, MMS), which route to `recognizeCtc` and share the writers.
 */
import type { Command } from 'commander';
import { decodeAudio } from '../audio/index.js';
import { alignTranscript, loadAligner, loadCtc, recognizeCtc, type CtcModel } from '../asr/ctc/index.js';
import type { TranscriptionResult } from '../asr/types.js';
import type { AlignmentHeadsOption } from '../asr/whisper/word-timestamps.js';
import { MoxingError } from '../errors.js';
import { toLanguageCode } from '../text/index.js';
import { checkOutputNames, formatSegmentLine, writeTranscript, type OutputFormat } from '../formats/index.js';
import type { Variant } from '../hub/index.js';
import type { Device, RuntimeOptions } from '../runtime/index.js';
import { audioInput, checkStdinOnce, readInput, STDIN, type AudioInputCliOptions } from './audio-input.js';
import { diarizeResult, SPEAKER_OPTION_NAMES, type SpeakerCliOptions } from './transcribe-speakers.js';
import { reportError } from './report.js';
import { checkSubtitleOptions, subtitleOptions, type SubtitleCliOptions } from './subtitle-options.js';
import { clearOnRelease } from '../runtime/model-caches.js';

/** The flags of `moxing transcribe` this module reads. */
export interface WordCliOptions extends SubtitleCliOptions, AudioInputCliOptions, SpeakerCliOptions {
  model: string;
  variant: Variant;
  language?: string;
  outputDir: string;
  outputFormat: OutputFormat[];
  threads?: number;
  device: Device;
  verbose: boolean;
  wordTimestamps?: boolean;
  prependPunctuations?: string;
  appendPunctuations?: string;
  hallucinationSilenceThreshold?: number;
  alignmentHeads?: AlignmentHeadsOption;
  align?: boolean;
  alignModel?: string;
}

/** `--alignment-heads`: config, default, or layer:head pairs such as "1:0,2:1". */
export function parseAlignmentHeads(value: string): AlignmentHeadsOption {
  const text = value.trim();
  if (text === 'config' || text === 'default') return text;
  const pairs = text.split(',').map((pair) => pair.trim().split(':').map((n) => Number(n)));
  if (pairs.length === 0 || pairs.some((p) => p.length !== 2 || p.some((n) => !Number.isInteger(n) || n < 0))) {
    throw new MoxingError('BAD_ARGUMENT', `--alignment-heads must be config, default or layer:head pairs such as 1:0,2:1, got "${value}"`);
  }
  return pairs.map(([layer, head]) => [layer, head] as [number, number]);
}

/**
 * openai's rules for the word flags: the layout flags need word times (`--word-timestamps`, or words from
 * `--align` or a CTC model), `--max-line-count` needs `--max-line-width`; `--max-words-per-line` is ignored
 * next to `--max-line-width`, with a warning, as openai does.
 */
export function checkWordOptions(options: WordCliOptions, ctc: boolean): void {
  const haveWords = (options.wordTimestamps ?? false) || (options.align ?? false) || ctc;
  const layout = 'requires --word-timestamps (or --align): subtitles are laid out from word times';
  // [flag, its value, whether what it needs is there, what it needs]
  const rules: [string, unknown, boolean, string][] = [
    ['--highlight-words', options.highlightWords, haveWords, layout],
    ['--max-line-width', options.maxLineWidth, haveWords, layout],
    ['--max-line-count', options.maxLineCount, haveWords, layout],
    ['--max-words-per-line', options.maxWordsPerLine, haveWords, layout],
    ['--prepend-punctuations', options.prependPunctuations, options.wordTimestamps ?? false, 'requires --word-timestamps'],
    ['--append-punctuations', options.appendPunctuations, options.wordTimestamps ?? false, 'requires --word-timestamps'],
    ['--hallucination-silence-threshold', options.hallucinationSilenceThreshold, options.wordTimestamps ?? false, 'requires --word-timestamps'],
    ['--alignment-heads', options.alignmentHeads, options.wordTimestamps ?? false, 'requires --word-timestamps'],
  ];
  for (const [flag, value, met, needs] of rules) {
    if (value !== undefined && value !== false && !met) throw new MoxingError('BAD_ARGUMENT', `${flag} ${needs}`);
  }
  if (options.alignModel !== undefined && !options.align) throw new MoxingError('BAD_ARGUMENT', '--align-model requires --align');
  checkSubtitleOptions(options);
}

function runtimeOf(options: WordCliOptions): RuntimeOptions {
  return { device: options.device, intraOpThreads: options.threads };
}

const aligners = clearOnRelease(new Map<string, Promise<CtcModel>>());

/** The aligner of --align-model, else of `language`, loaded once per run of several files. */
function alignerFor(options: WordCliOptions, language: string): Promise<CtcModel> {
  const key = options.alignModel ?? language;
  let model = aligners.get(key);
  if (!model) {
    model = loadAligner(key, { runtime: runtimeOf(options) });
    aligners.set(key, model);
    model.catch(() => aligners.delete(key));
  }
  return model;
}

/** With --align and a known language (given, or --align-model), loads the aligner now: its errors come before a long transcription. */
export async function prepareAligner(options: WordCliOptions): Promise<void> {
  if (!options.align) return;
  const language = options.language !== undefined ? toLanguageCode(options.language) : undefined;
  if (options.alignModel !== undefined || language !== undefined) await alignerFor(options, language ?? 'en');
}

/**
 * `--align`: WhisperX's forced alignment of every segment on its own audio span, with `--align-model` or the
 * default aligner of the result's language; the segments' words (and so their start and end) become the
 * aligned ones.
 */
export async function alignResult(file: string, input: string | Uint8Array, result: TranscriptionResult, options: WordCliOptions): Promise<TranscriptionResult> {
  if (!options.align) return result;
  const model = await alignerFor(options, result.language);
  const audio = await decodeAudio(input, audioInput(file, options, false)); // reported when it was transcribed
  const aligned = await alignTranscript(audio, result.segments, model, { language: result.language });
  return { ...result, segments: aligned.segments };
}

/** The options of `moxing transcribe` that a CTC model can honour. */
const CTC_OPTIONS = new Set([
  'model', 'variant', 'language', 'outputDir', 'outputFormat', 'threads', 'device', 'verbose',
  'highlightWords', 'maxLineWidth', 'maxLineCount', 'maxWordsPerLine', 'align', 'alignModel', 'allowTruncated',
  ...SPEAKER_OPTION_NAMES,
]);

/** `moxing transcribe --model <ctc model>`: greedy CTC recognition of each file, same outputs as Whisper's. */
export async function transcribeCtcFiles(files: readonly string[], options: WordCliOptions, command: Command | undefined): Promise<number> {
  const whisperOnly = command
    ? command.options.filter((o) => command.getOptionValueSource(o.attributeName()) === 'cli' && !CTC_OPTIONS.has(o.attributeName())).map((o) => o.long ?? o.flags)
    : [];
  if (whisperOnly.length > 0) {
    throw new MoxingError('BAD_ARGUMENT', `${options.model} is a CTC (wav2vec2) model: ${whisperOnly.join(', ')} ${whisperOnly.length > 1 ? 'apply' : 'applies'} to Whisper models only`);
  }
  const model = await loadCtc(options.model, { variant: options.variant, runtime: runtimeOf(options), ...(options.language ? { language: options.language } : {}) });
  return forEachFile(files, options, async (file, input) => {
    const result = await recognizeCtc(await decodeAudio(input, audioInput(file, options)), model, options.language ? { language: options.language } : {});
    if (options.verbose) for (const segment of result.segments) process.stdout.write(`${formatSegmentLine(segment)}\n`);
    return result;
  });
}

/** The path an input's outputs are named after: standard input's are stdin.*. */
const outputName = (file: string): string => (file === STDIN ? 'stdin' : file);

/** Before anything loads: standard input at most once, and no two inputs whose outputs share a name. */
export function checkInputs(files: readonly string[]): void {
  checkStdinOnce(files);
  checkOutputNames(files.map(outputName));
}

/**
 * Runs `transcribeFile` on each file, aligns (with --align) and writes its outputs atomically. A file that
 * fails is reported on one line and the others still run; the exit code is that file's with one file, else 1.
 */
export async function forEachFile(
  files: readonly string[],
  options: WordCliOptions,
  transcribeFile: (file: string, input: string | Uint8Array) => Promise<TranscriptionResult>,
): Promise<number> {
  let failures = 0;
  for (const [i, file] of files.entries()) {
    // Segments print as they are decoded: with several files, say whose they are (as head and tail do).
    if (options.verbose && files.length > 1) process.stdout.write(`${i > 0 ? '\n' : ''}==> ${file} <==\n`);
    try {
      const input = await readInput(file);
      const result = await diarizeResult(file, input, await alignResult(file, input, await transcribeFile(file, input), options), options);
      const written = await writeTranscript(result, { audioPath: outputName(file), outputDir: options.outputDir, formats: options.outputFormat, ...subtitleOptions(options) });
      if (options.verbose) process.stderr.write(`wrote ${written.join(', ')}\n`);
    } catch (error) {
      failures++;
      const code = reportError(error, files.length > 1 ? `${file}: ` : '');
      if (files.length === 1) return code;
    }
  }
  return failures === 0 ? 0 : 1;
}
