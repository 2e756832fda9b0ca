/**
 * `moxing align AUDIO TRANSCRIPT`: word times for a known transcript by CTC forced alignment (WhisperX's
 * method). The transcript is plain text (one output segment per line), subtitles (.srt, .vtt: each cue aligned
 * on its own span) or a transcription json (openai's result layout, as `moxing transcribe` writes it).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { MoxingError } from '../errors.js';
import { decodeAudio } from '../audio/index.js';
import { alignTranscript, defaultAligner, type TranscriptSegment } from '../asr/ctc/index.js';
import { loadCtcModel } from '../asr/ctc/model.js';
import { DEFAULT_VARIANT, parseModelRef, parseVariant, resolveModel, VARIANT_SUFFIXES, VARIANTS, type Variant } from '../hub/index.js';
import { OUTPUT_FORMATS, parseSrt, parseVtt, resolveOutputFormats, writeTranscript } from '../formats/index.js';
import type { Device } from '../runtime/index.js';
import { toLanguageCode } from '../text/index.js';
import { ALLOW_TRUNCATED_FLAG, audioInput, type AudioInputCliOptions } from './audio-input.js';
import { parseChoice, parseInteger } from './options.js';
import { checkSubtitleOptions, subtitleOptions, withSubtitleOptions, type SubtitleCliOptions } from './subtitle-options.js';

interface AlignCliOptions extends SubtitleCliOptions, AudioInputCliOptions {
  alignModel?: string;
  language?: string;
  variant: Variant;
  outputDir: string;
  outputFormat: string;
  threads?: number;
  device: Device;
}

const CTC_OPTIONAL_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

/** Reads a transcript file: subtitles and json give timed segments, anything else is plain text. */
export async function readTranscript(path: string): Promise<string | TranscriptSegment[]> {
  if (!existsSync(path)) throw new MoxingError('FILE_NOT_FOUND', `transcript not found: ${path}`);
  const content = await readFile(path, 'utf8');
  if (content.trim() === '') throw new MoxingError('FILE_EMPTY', `the transcript ${path} is empty: give the text spoken in the audio`);
  const ext = extname(path).toLowerCase();
  if (ext === '.srt') return parseSrt(content).map((c) => ({ text: c.text.replace(/\n/g, ' '), start: c.start, end: c.end }));
  if (ext === '.vtt') return parseVtt(content).map((c) => ({ text: c.text.replace(/\n/g, ' '), start: c.start, end: c.end }));
  if (ext === '.json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(content);
    } catch (cause) {
      throw new MoxingError('BAD_ARGUMENT', `the transcript ${path} is not valid JSON: ${(cause as Error).message}`, { cause });
    }
    const segments = (parsed as { segments?: unknown }).segments;
    const valid = Array.isArray(segments) && segments.every((s) => s && typeof s.text === 'string' && typeof s.start === 'number' && typeof s.end === 'number');
    if (!valid) throw new MoxingError('BAD_ARGUMENT', `the transcript ${path} has no "segments" list of {text, start, end}: give a transcription json, srt, vtt or plain text`);
    return (segments as TranscriptSegment[]).map((s) => ({ text: s.text, start: s.start, end: s.end }));
  }
  return content;
}

/** The aligner folder: --align-model (folder, alias or hub id) or the language's default ONNX aligner. */
export async function alignerDir(options: Pick<AlignCliOptions, 'alignModel' | 'language' | 'variant'>): Promise<string> {
  let ref = options.alignModel;
  if (ref === undefined) {
    const entry = defaultAligner(options.language ?? 'en');
    if (!entry.onnx) {
      throw new MoxingError(
        'BAD_ARGUMENT',
        `the default aligner for "${options.language ?? 'en'}" is ${entry.model}, which has no known ONNX export: ` +
          `export it (optimum-cli export onnx --model ${entry.model} DIR) and pass --align-model DIR`,
      );
    }
    ref = entry.onnx;
  }
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'local') return parsed.dir;
  const suffix = VARIANT_SUFFIXES[options.variant];
  return resolveModel(parsed, {
    files: [`onnx/model${suffix}.onnx`, 'vocab.json'],
    optionalFiles: CTC_OPTIONAL_FILES,
    pullArgs: options.variant === DEFAULT_VARIANT ? undefined : `--variant ${options.variant}`,
  });
}

export function register(program: Command): void {
  const command = program
    .command('align')
    .description('give each word of a known transcript its time in the audio (CTC forced alignment, as WhisperX)')
    .argument('<audio>', 'audio or video file')
    .argument('<transcript>', 'what is said: plain text (.txt, one segment per line), .srt, .vtt, or a transcription .json')
    .option('--align-model <model>', 'wav2vec2 CTC aligner: folder, alias or hub id (default: the language\'s default aligner)')
    // Names ("English") become Whisper's codes; other codes (MMS's ISO 639-3 "fra") pass through unchanged.
    .option('--language <code>', 'language of the transcript (picks the default aligner; per-character words for zh, ja, th, lo, my, yue)', (value: string) => toLanguageCode(value) ?? value)
    .option('--variant <variant>', `aligner weights: ${VARIANTS.join(', ')}`, parseVariant, DEFAULT_VARIANT)
    .option('--output-dir <dir>', 'folder for the output files', '.')
    .option('--output-format <format>', `${[...OUTPUT_FORMATS, 'all'].join(', ')}`, 'json');
  withSubtitleOptions(command, false)
    .option('--threads <n>', 'CPU threads', parseInteger('--threads', 1, 1024))
    .option('--device <device>', 'cpu or cuda', parseChoice('--device', ['cpu', 'cuda'] as const), 'cpu')
    .option(...ALLOW_TRUNCATED_FLAG)
    .action(async (audioPath: string, transcriptPath: string, options: AlignCliOptions) => {
      const formats = resolveOutputFormats(options.outputFormat.split(',').map((f) => f.trim()));
      checkSubtitleOptions(options);
      const transcript = await readTranscript(transcriptPath);
      const dir = await alignerDir(options);
      const model = await loadCtcModel(dir, {
        fileSuffix: VARIANT_SUFFIXES[options.variant],
        device: options.device,
        ...(options.threads ? { intraOpThreads: options.threads } : {}),
      });
      const audio = await decodeAudio(audioPath, audioInput(audioPath, options));
      const result = await alignTranscript(audio, transcript, model, { ...(options.language ? { language: options.language } : {}) });
      for (const segment of result.segments) {
        for (const w of segment.words ?? []) process.stdout.write(`[${w.start.toFixed(3)} --> ${w.end.toFixed(3)}] ${w.word.trim()}\n`);
      }
      await writeTranscript(result, { audioPath, outputDir: options.outputDir, formats, ...subtitleOptions(options) });
    });
}
