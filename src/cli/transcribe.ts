/**
 * `moxing transcribe FILE...`: openai/whisper's command line on ONNX Runtime. Segments are printed as they
 * are decoded, a progress bar runs on stderr, and every output file is written atomically. Several files
 * share one loaded model; a file that fails is reported and the others still run.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { DEFAULT_TRANSCRIBE, WhisperModel, transcribeStream, type BatchedOptions, type TranscribeOptions } from '../asr/whisper/index.js';
import type { Task, TranscriptionResult } from '../asr/types.js';
import { DEFAULT_WRITE_OPTIONS, OUTPUT_FORMATS, formatSegmentLine, type OutputFormatOption } from '../formats/index.js';
import { DEFAULT_VARIANT, VARIANTS, createDownloadProgress, parseVariant, type Variant } from '../hub/index.js';
import { DEFAULT_RUNTIME, type Device } from '../runtime/index.js';
import { parseChoice, parseInteger, parseNumber } from './options.js';
import { ALLOW_TRUNCATED_FLAG, audioInput } from './audio-input.js';
import { BATCHED_FLAGS, batchedFromCli, type BatchedCliOptions } from './transcribe-batched.js';
import { withSubtitleOptions } from './subtitle-options.js';
import { checkWordOptions, ctcModelDir, forEachFile, parseAlignmentHeads, prepareAligner, transcribeCtcFiles, type WordCliOptions } from './transcribe-words.js';

interface TranscribeCliOptions extends WordCliOptions, BatchedCliOptions {
  model: string;
  variant: Variant;
  language?: string;
  task: Task;
  outputDir: string;
  outputFormat: OutputFormatOption;
  beamSize?: number;
  bestOf?: number;
  patience?: number;
  lengthPenalty?: number;
  temperature: number;
  temperatureIncrementOnFallback: number;
  initialPrompt?: string;
  conditionOnPreviousText: boolean;
  compressionRatioThreshold: number;
  logprobThreshold: number;
  /** commander names `--no-speech-threshold` as the negation of `--speech-threshold`: this is its value. */
  speechThreshold: number;
  suppressTokens: string;
  withoutTimestamps?: boolean;
  seed?: number;
  threads?: number;
  device: Device;
  verbose: boolean;
}

/** openai's CLI: temperatures from --temperature up to 1.0 in --temperature-increment-on-fallback steps. */
export function fallbackTemperatures(start: number, increment: number): number[] {
  if (increment <= 0) return [start];
  const temperatures: number[] = [];
  // Whole steps, not repeated float addition, so 0.2 * 3 stays 0.6 (numpy.arange computes start + i * step).
  for (let i = 0; start + i * increment <= 1 + 1e-6; i++) temperatures.push(Number((start + i * increment).toFixed(10)));
  // A start above 1 leaves openai's range empty (it then has no decode at all): decode once at that start.
  return temperatures.length > 0 ? temperatures : [start];
}

const TASKS: readonly Task[] = ['transcribe', 'translate'];
const FORMAT_CHOICES: readonly OutputFormatOption[] = [...OUTPUT_FORMATS, 'all'];

export function register(program: Command): void {
  const command = program
    .command('transcribe')
    .description('transcribe or translate audio/video files with Whisper (any format ffmpeg reads; WAV without it)')
    .argument('<files...>', 'audio or video files')
    .option('-m, --model <model>', 'catalogue alias, hub repo id owner/name[@rev], or a local export folder', DEFAULT_TRANSCRIBE.model)
    .option('--variant <variant>', `weights: ${VARIANTS.join(', ')}`, parseVariant, DEFAULT_VARIANT)
    .option('-l, --language <language>', 'spoken language, code or name (detected from the first 30 s when omitted)')
    .option('--task <task>', 'transcribe (X -> X) or translate (X -> English)', parseChoice('--task', TASKS), DEFAULT_TRANSCRIBE.task)
    .option('-o, --output-dir <dir>', 'folder for the output files', DEFAULT_WRITE_OPTIONS.outputDir)
    .option('-f, --output-format <format>', `${FORMAT_CHOICES.join(', ')}`, parseChoice('--output-format', FORMAT_CHOICES), 'all')
    .option('--beam-size <n>', 'beam search width at temperature 0 (greedy when omitted)', parseInteger('--beam-size', 1, 64))
    .option('--best-of <n>', 'samples per temperature above 0', parseInteger('--best-of', 1, 64))
    .option('--patience <p>', 'beam search patience', parseNumber('--patience', 0.01, 100))
    .option('--length-penalty <alpha>', 'length penalty alpha (plain length normalisation when omitted)', parseNumber('--length-penalty', 0, 1))
    .option('--temperature <t>', 'first sampling temperature', parseNumber('--temperature', 0, 10), 0)
    .option('--temperature-increment-on-fallback <step>', 'temperature step on failed decodes (0 disables fallback)', parseNumber('--temperature-increment-on-fallback', 0, 1), 0.2)
    .option('--initial-prompt <text>', 'text that primes the first window (names, vocabulary, style)')
    .option('--no-condition-on-previous-text', 'do not prompt each window with the previous text')
    .option('--compression-ratio-threshold <r>', 'gzip ratio above which a decode has failed', parseNumber('--compression-ratio-threshold', 0), DEFAULT_TRANSCRIBE.compressionRatioThreshold)
    .option('--logprob-threshold <lp>', 'average log-probability below which a decode has failed', parseNumber('--logprob-threshold', Number.NEGATIVE_INFINITY, 0), DEFAULT_TRANSCRIBE.logprobThreshold)
    .option('--no-speech-threshold <p>', 'no-speech probability above which a silent window is skipped', parseNumber('--no-speech-threshold', 0, 1), DEFAULT_TRANSCRIBE.noSpeechThreshold)
    .option('--suppress-tokens <ids>', 'comma-separated token ids to suppress; -1 is the non-speech symbol set', DEFAULT_TRANSCRIBE.suppressTokens)
    .option('--without-timestamps', 'decode text only, one segment per 30 s window')
    .option('--seed <n>', 'seed of the sampler used by temperature fallback (reproducible output)', parseInteger('--seed', 0, 2 ** 31 - 1))
    .option('--threads <n>', `ONNX Runtime intra-op threads (default: ${DEFAULT_RUNTIME.intraOpThreads}, all cores)`, parseInteger('--threads', 1, 1024))
    .option('--device <device>', 'cpu, or cuda with a CUDA build of onnxruntime-node', parseChoice('--device', ['cpu', 'cuda'] as const), DEFAULT_RUNTIME.device)
    .option('--no-verbose', 'do not print segments as they are decoded')
    .option(...ALLOW_TRUNCATED_FLAG)
    .option(...BATCHED_FLAGS[0])
    .option(...BATCHED_FLAGS[1])
    .option(...BATCHED_FLAGS[2])
    .option(...BATCHED_FLAGS[3])
    .option(...BATCHED_FLAGS[4])
    .option(...BATCHED_FLAGS[5])
    .option('--word-timestamps', 'give every word its time, from cross attention (needs the timestamped decoder export)')
    .option('--prepend-punctuations <chars>', 'with --word-timestamps: punctuation merged into the next word (default: "\'“¿([{-)')
    .option('--append-punctuations <chars>', 'with --word-timestamps: punctuation merged into the previous word (default: "\'.。,，!！?？:：”)]}、)')
    .option('--hallucination-silence-threshold <s>', 'with --word-timestamps: skip silences longer than this around a likely hallucination', parseNumber('--hallucination-silence-threshold', 0))
    .option('--alignment-heads <heads>', 'with --word-timestamps: config (generation_config.json), default (openai: upper half of the decoder) or layer:head,...', parseAlignmentHeads);
  withSubtitleOptions(command, true)
    .option('--align', 'align the transcript with a wav2vec2 CTC model, as WhisperX (word times from forced alignment)')
    .option('--align-model <model>', 'with --align: aligner folder, alias or hub id (default: the language\'s default aligner)')
    .action(async (files: string[], options: TranscribeCliOptions, command: Command) => {
      process.exitCode = await transcribeFiles(files, options, command);
    });
}

async function transcribeFiles(files: readonly string[], options: TranscribeCliOptions, command?: Command): Promise<number> {
  const ctc = await ctcModelDir(options);
  checkWordOptions(options, ctc !== undefined);
  await prepareAligner(options);
  if (ctc !== undefined) return transcribeCtcFiles(files, ctc, options, command);
  const batched = batchedFromCli(options); // its flag errors come before the model loads
  const runtime = { device: options.device, intraOpThreads: options.threads };
  const download = createDownloadProgress();
  let model: WhisperModel;
  try {
    model = await WhisperModel.load(options.model, { variant: options.variant, runtime, hub: { onProgress: download.onProgress }, timestamped: options.wordTimestamps ?? false });
  } finally {
    download.stop();
  }
  const decoding: TranscribeOptions & BatchedOptions = {
    model,
    language: options.language,
    task: options.task,
    temperature: fallbackTemperatures(options.temperature, options.temperatureIncrementOnFallback),
    beamSize: options.beamSize,
    bestOf: options.bestOf,
    patience: options.patience,
    lengthPenalty: options.lengthPenalty,
    initialPrompt: options.initialPrompt,
    // Only the flag's "off": true is the library default, and the batched pipeline refuses an explicit true.
    ...(options.conditionOnPreviousText ? {} : { conditionOnPreviousText: false }),
    compressionRatioThreshold: options.compressionRatioThreshold,
    logprobThreshold: options.logprobThreshold,
    noSpeechThreshold: options.speechThreshold,
    suppressTokens: options.suppressTokens,
    withoutTimestamps: options.withoutTimestamps ?? false,
    wordTimestamps: options.wordTimestamps ?? false,
    prependPunctuations: options.prependPunctuations,
    appendPunctuations: options.appendPunctuations,
    hallucinationSilenceThreshold: options.hallucinationSilenceThreshold,
    alignmentHeads: options.alignmentHeads,
    seed: options.seed,
    ...batched,
  };
  return forEachFile(files, options, (file) => transcribeOne(file, { ...decoding, ...audioInput(file, options) }, options.verbose));
}

async function transcribeOne(file: string, options: TranscribeOptions, verbose: boolean): Promise<TranscriptionResult> {
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: '{bar} {percentage}% | {value}/{total} s', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const stream = transcribeStream(file, {
    ...options,
    onLanguage: (language, probabilities) => {
      if (verbose && probabilities) process.stderr.write(`Detected language: ${language} (p=${(probabilities[language] ?? 0).toFixed(2)})\n`);
    },
    onProgress: ({ doneSeconds, totalSeconds }) => {
      if (!bar) return;
      if (!started) bar.start(Math.round(totalSeconds), 0);
      started = true;
      bar.update(Math.round(doneSeconds));
    },
  });
  try {
    for (;;) {
      const next = await stream.next();
      if (next.done) return next.value;
      if (verbose) {
        // Clear the bar's line so segments and the bar do not interleave.
        if (bar && started) process.stderr.write('\r\x1b[K');
        process.stdout.write(`${formatSegmentLine(next.value)}\n`);
      }
    }
  } finally {
    if (started) bar?.stop();
    // Ends the generator (and its file reader) when printing failed mid-way; a no-op once it has returned.
    await stream.return(undefined as never);
  }
}
