/**
 * `moxing align AUDIO TRANSCRIPT`: word times for a known transcript by CTC forced alignment (WhisperX's
 * method). The transcript is plain text (one output segment per line), subtitles (.srt, .vtt: each cue aligned
 * on its own span) or a transcription json (openai's result layout, as `moxing transcribe` writes it).
 */
import type { Command } from 'commander';
import { decodeAudio } from '../audio/index.js';
import { alignTranscript, loadAligner } from '../asr/ctc/index.js';
import { DEFAULT_VARIANT, parseVariant, VARIANTS, type Variant } from '../hub/index.js';
import { readTranscript, writeTranscript, type OutputFormat } from '../formats/index.js';
import type { Device } from '../runtime/index.js';
import { toLanguageCode } from '../text/index.js';
import { ALLOW_TRUNCATED_FLAG, audioInput, type AudioInputCliOptions } from './audio-input.js';
import { OUTPUT_FORMAT_HELP, parseChoice, parseInteger, parseOutputFormats } from './options.js';
import { checkSubtitleOptions, subtitleOptions, withSubtitleOptions, type SubtitleCliOptions } from './subtitle-options.js';

interface AlignCliOptions extends SubtitleCliOptions, AudioInputCliOptions {
  alignModel?: string;
  language?: string;
  variant: Variant;
  outputDir: string;
  outputFormat: OutputFormat[];
  threads?: number;
  device: Device;
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
    .option('-o, --output-dir <dir>', 'folder for the output files', '.')
    .option('-f, --output-format <formats>', OUTPUT_FORMAT_HELP, parseOutputFormats, parseOutputFormats('json'));
  withSubtitleOptions(command, false)
    .option('--threads <n>', 'CPU threads', parseInteger('--threads', 1, 1024))
    .option('--device <device>', 'cpu or cuda', parseChoice('--device', ['cpu', 'cuda'] as const), 'cpu')
    .option(...ALLOW_TRUNCATED_FLAG)
    .action(async (audioPath: string, transcriptPath: string, options: AlignCliOptions) => {
      checkSubtitleOptions(options);
      const transcript = await readTranscript(transcriptPath);
      const model = await loadAligner(options.alignModel ?? options.language ?? 'en', { variant: options.variant, runtime: { device: options.device, intraOpThreads: options.threads } });
      const audio = await decodeAudio(audioPath, audioInput(audioPath, options));
      const result = await alignTranscript(audio, transcript, model, { ...(options.language ? { language: options.language } : {}) });
      for (const segment of result.segments) {
        for (const w of segment.words ?? []) process.stdout.write(`[${w.start.toFixed(3)} --> ${w.end.toFixed(3)}] ${w.word.trim()}\n`);
      }
      await writeTranscript(result, { audioPath, outputDir: options.outputDir, formats: options.outputFormat, ...subtitleOptions(options) });
    });
}
