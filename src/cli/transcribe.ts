/**
 * `moxing transcribe FILE...`: openai/whisper's command line on ONNX Runtime. Segments are printed as they
 * are decoded, a progress bar runs on stderr, and every output file is written atomically. Several files
 * share one loaded model; a file that fails is reported and the others still run.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { MoxingError } from '../errors.js';
import { DEFAULT_TRANSCRIBE, WhisperModel, fallbackTemperatures, transcribeStream, type BatchedOptions, type TranscribeOptions } from '../asr/whisper/index.js';
import type { TranscriptionResult } from '../asr/types.js';
import { DEFAULT_WRITE_OPTIONS, formatSegmentLine } from '../formats/index.js';
import { DEFAULT_VARIANT, VARIANTS, createDownloadProgress, parseVariant } from '../hub/index.js';
import { DEFAULT_RUNTIME } from '../runtime/index.js';
import { OUTPUT_FORMAT_HELP, parseChoice, parseInteger, parseOutputFormats } from './options.js';
import { ALLOW_TRUNCATED_FLAG, audioInput } from './audio-input.js';
import { addFlags, fieldsOf, schemaParser, type Flag } from './flags.js';
import { DECODING_FIELDS, FALLBACK_FIELDS } from '../asr/whisper/option-schemas.js';
import { BATCHED_FLAGS, batchedFromCli, type BatchedCliOptions } from './transcribe-batched.js';
import { withSubtitleOptions } from './subtitle-options.js';
import { isCtcModelRef } from '../asr/ctc/index.js';
import { checkInputs, checkWordOptions, forEachFile, parseAlignmentHeads, prepareAligner, transcribeCtcFiles, type WordCliOptions } from './transcribe-words.js';
import { withSpeakerOptions } from './transcribe-speakers.js';

/** The flags this file reads itself; the decoding flags (DECODING_FLAGS) go to the library as they are. */
interface TranscribeCliOptions extends WordCliOptions, BatchedCliOptions {
  /** openai's CLI: the first temperature, and the step of the fallback ladder up to 1. */
  temperature: number;
  temperatureIncrementOnFallback: number;
}


/** `--suppress-tokens`: whole numbers from -1 up, checked before anything loads (the model's vocabulary later). */
function parseTokenIds(value: string): string {
  const bad = value.split(',').map((s) => s.trim()).find((s) => s !== '' && !(/^-?\d{1,10}$/.test(s) && Number(s) >= -1 && Number(s) < 2 ** 31));
  if (bad !== undefined) throw new MoxingError('BAD_ARGUMENT', `--suppress-tokens: "${bad}" is not a token id; give comma-separated whole numbers, -1 for the non-speech set`);
  return value;
}

/** The flags that set `transcribe()`'s own options, by their library names (openai's CLI names them the same). */
export const DECODING_FLAGS: readonly Flag[] = [
  { field: 'language', short: 'l', value: '<language>', description: 'spoken language, code or name (detected from the first 30 s when omitted)' },
  { field: 'task', value: '<task>', description: 'transcribe (X -> X) or translate (X -> English)', schema: DECODING_FIELDS.task },
  { field: 'beamSize', value: '<n>', description: 'beam search width at temperature 0 (greedy when omitted)', schema: DECODING_FIELDS.beamSize },
  { field: 'bestOf', value: '<n>', description: 'samples per temperature above 0', schema: DECODING_FIELDS.bestOf },
  { field: 'patience', value: '<p>', description: 'beam search patience', schema: DECODING_FIELDS.patience },
  { field: 'lengthPenalty', value: '<alpha>', description: 'length penalty alpha (plain length normalisation when omitted)', schema: DECODING_FIELDS.lengthPenalty },
  { field: 'initialPrompt', value: '<text>', description: 'text that primes the first window (names, vocabulary, style)' },
  { field: 'carryInitialPrompt', description: 'keep --initial-prompt at the head of every window\'s prompt' },
  { field: 'conditionOnPreviousText', negatable: true, description: 'do not prompt each window with the previous text' },
  { field: 'compressionRatioThreshold', value: '<r>', description: 'gzip ratio above which a decode has failed', schema: DECODING_FIELDS.compressionRatioThreshold },
  { field: 'logprobThreshold', value: '<lp>', description: 'average log-probability below which a decode has failed', schema: DECODING_FIELDS.logprobThreshold },
  { field: 'noSpeechThreshold', value: '<p>', description: 'no-speech probability above which a silent window is skipped', schema: DECODING_FIELDS.noSpeechThreshold },
  { field: 'suppressTokens', value: '<ids>', description: 'comma-separated token ids to suppress; -1 is the non-speech symbol set', parse: parseTokenIds },
  { field: 'withoutTimestamps', description: 'decode text only, one segment per 30 s window' },
  { field: 'clipTimestamps', value: '<s>', description: 'start,end,start,end,... seconds of the clips to transcribe (the last end defaults to the audio\'s end)' },
  { field: 'seed', value: '<n>', description: 'seed of the sampler used by temperature fallback (reproducible output)', schema: DECODING_FIELDS.seed },
  { field: 'wordTimestamps', description: 'give every word its time, from cross attention (needs the timestamped decoder export)' },
  { field: 'prependPunctuations', value: '<chars>', description: 'with --word-timestamps: punctuation merged into the next word' },
  { field: 'appendPunctuations', value: '<chars>', description: 'with --word-timestamps: punctuation merged into the previous word' },
  { field: 'hallucinationSilenceThreshold', value: '<s>', description: 'with --word-timestamps: skip silences longer than this around a likely hallucination', schema: DECODING_FIELDS.hallucinationSilenceThreshold },
  { field: 'alignmentHeads', value: '<heads>', description: 'with --word-timestamps: config (generation_config.json), default (openai: upper half of the decoder) or layer:head,...', parse: parseAlignmentHeads },
  { field: 'allowTruncated', description: ALLOW_TRUNCATED_FLAG[1] },
];

export function register(program: Command): void {
  const command = program
    .command('transcribe')
    .description('transcribe or translate audio/video files with Whisper (any format ffmpeg reads; WAV without it)')
    .argument('<files...>', 'audio or video files; - reads standard input (outputs named stdin.*)')
    .option('-m, --model <model>', 'catalogue alias, hub repo id owner/name[@rev], or a local export folder', DEFAULT_TRANSCRIBE.model)
    .option('--variant <variant>', `weights: ${VARIANTS.join(', ')}`, parseVariant, DEFAULT_VARIANT)
    .option('-o, --output-dir <dir>', 'folder for the output files', DEFAULT_WRITE_OPTIONS.outputDir)
    .option('-f, --output-format <formats>', OUTPUT_FORMAT_HELP, parseOutputFormats, parseOutputFormats('all'))
    .option('--temperature <t>', 'first sampling temperature', schemaParser('--temperature', FALLBACK_FIELDS.temperature), 0)
    .option('--temperature-increment-on-fallback <step>', 'temperature step on failed decodes (0 disables fallback)', schemaParser('--temperature-increment-on-fallback', FALLBACK_FIELDS.temperatureIncrementOnFallback), 0.2)
    .option('--threads <n>', `ONNX Runtime intra-op threads (default: MOXING_ORT_THREADS, else all ${DEFAULT_RUNTIME.intraOpThreads} cores)`, parseInteger('--threads', 1, 1024))
    .option('--device <device>', 'cpu, or cuda with a CUDA build of onnxruntime-node', parseChoice('--device', ['cpu', 'cuda'] as const), DEFAULT_RUNTIME.device)
    .option('--no-verbose', 'do not print segments as they are decoded')
    .option(...BATCHED_FLAGS[0])
    .option(...BATCHED_FLAGS[1])
    .option(...BATCHED_FLAGS[2])
    .option(...BATCHED_FLAGS[3])
    .option(...BATCHED_FLAGS[4])
    .option(...BATCHED_FLAGS[5]);
  addFlags(command, DECODING_FLAGS, DEFAULT_TRANSCRIBE);
  withSubtitleOptions(command, true)
    .option('--align', 'align the transcript with a wav2vec2 CTC model, as WhisperX (word times from forced alignment)')
    .option('--align-model <model>', 'with --align: aligner folder, alias or hub id (default: the language\'s default aligner)');
  withSpeakerOptions(command)
    .action(async (files: string[], options: TranscribeCliOptions, command: Command) => {
      process.exitCode = await transcribeFiles(files, options, command);
    });
}

async function transcribeFiles(files: readonly string[], options: TranscribeCliOptions, command: Command): Promise<number> {
  checkInputs(files);
  const ctc = isCtcModelRef(options.model);
  checkWordOptions(options, ctc);
  await prepareAligner(options);
  if (ctc) return transcribeCtcFiles(files, options, command);
  const batched = batchedFromCli(options); // its flag errors come before the model loads
  const runtime = { device: options.device, intraOpThreads: options.threads };
  const download = createDownloadProgress();
  let model: WhisperModel;
  try {
    model = await WhisperModel.load(options.model, { variant: options.variant, runtime, hub: { onProgress: download.onProgress }, timestamped: options.wordTimestamps ?? false });
  } finally {
    download.stop();
  }
  // The decoding flags are the library's options under their own names: spread unchanged.
  const decoding: TranscribeOptions & BatchedOptions = {
    ...fieldsOf<TranscribeOptions>(command, DECODING_FLAGS),
    model,
    temperature: fallbackTemperatures(options.temperature, options.temperatureIncrementOnFallback),
    ...batched,
  };
  return forEachFile(files, options, (file, input) => transcribeOne(input, { ...decoding, ...audioInput(file, options) }, options.verbose));
}

async function transcribeOne(input: string | Uint8Array, options: TranscribeOptions, verbose: boolean): Promise<TranscriptionResult> {
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: '{bar} {percentage}% | {value}/{total} s', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const stream = transcribeStream(input, {
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
