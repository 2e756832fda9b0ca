/**
 * The srt/vtt layout flags that `moxing transcribe` and `moxing align` share: declared, checked (openai's CLI
 * rules) and turned into the writers' options in one place, so the two commands cannot drift apart.
 */
import type { Command } from 'commander';
import { MoxingError } from '../errors.js';
import type { SubtitleOptions } from '../formats/index.js';
import { parseInteger } from './options.js';

export interface SubtitleCliOptions {
  highlightWords?: boolean;
  maxLineWidth?: number;
  maxLineCount?: number;
  maxWordsPerLine?: number;
}

/**
 * Adds `--highlight-words`, `--max-line-width`, `--max-line-count` and `--max-words-per-line` to `command`.
 * `wordsOptional`: the command may run without word times (transcribe without --word-timestamps), so the
 * help says which flags need them.
 */
export function withSubtitleOptions(command: Command, wordsOptional: boolean): Command {
  const needs = wordsOptional ? 'needs word times' : '';
  const note = (...parts: string[]): string => {
    const text = [needs, ...parts].filter((p) => p !== '').join('; ');
    return text === '' ? '' : ` (${text})`;
  };
  return command
    .option('--highlight-words', `srt/vtt: underline each word as it is spoken${note()}`)
    .option('--max-line-width <n>', `srt/vtt: most characters per line${note()}`, parseInteger('--max-line-width', 1))
    .option('--max-line-count <n>', 'srt/vtt: most lines per cue (needs --max-line-width)', parseInteger('--max-line-count', 1))
    .option('--max-words-per-line <n>', `srt/vtt: most words per line${note('no effect with --max-line-width')}`, parseInteger('--max-words-per-line', 1));
}

/**
 * openai's rules between the layout flags: `--max-line-count` needs `--max-line-width`; `--max-words-per-line`
 * is ignored next to `--max-line-width`, with a warning on stderr.
 */
export function checkSubtitleOptions(options: SubtitleCliOptions): void {
  if (options.maxLineCount !== undefined && options.maxLineWidth === undefined) {
    throw new MoxingError('BAD_ARGUMENT', '--max-line-count requires --max-line-width (it counts lines of at most that width)');
  }
  if (options.maxWordsPerLine !== undefined && options.maxLineWidth !== undefined) {
    process.stderr.write('moxing: warning: --max-words-per-line has no effect with --max-line-width\n');
  }
}

/** The writers' subtitle layout options from the flags (unset flags keep the writers' defaults). */
export function subtitleOptions(options: SubtitleCliOptions): Partial<SubtitleOptions> {
  return {
    highlightWords: options.highlightWords ?? false,
    ...(options.maxLineWidth !== undefined ? { maxLineWidth: options.maxLineWidth } : {}),
    ...(options.maxLineCount !== undefined ? { maxLineCount: options.maxLineCount } : {}),
    ...(options.maxWordsPerLine !== undefined ? { maxWordsPerLine: options.maxWordsPerLine } : {}),
  };
}
