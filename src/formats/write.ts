/**
 * Writing transcripts to disk: every file is rendered in memory, then the set is written all or nothing as
 * `<audio basename>.<ext>` (see atomic-write.ts). A reader never sees a partial file or a partial set.
 */
import { basename, extname, join } from 'node:path';
import { writeFilesAtomically } from '../atomic-write.js';
import type { TranscriptionResult } from '../asr/types.js';
import { MoxingError } from '../errors.js';
import { DEFAULT_SUBTITLE_OPTIONS, type SubtitleOptions } from './subtitles.js';
import { renderTranscript, resolveOutputFormats, type OutputFormatOption } from './writers.js';

export interface WriteOptions extends SubtitleOptions {
  /** Folder the files go to; created when missing. @default "." */
  outputDir: string;
  /** Formats to write; "all" is txt, vtt, srt, tsv and json. @default "all" */
  formats: OutputFormatOption | readonly OutputFormatOption[];
}

export const DEFAULT_WRITE_OPTIONS: Readonly<WriteOptions> = Object.freeze({
  ...DEFAULT_SUBTITLE_OPTIONS,
  outputDir: '.',
  formats: 'all',
});

/** `<basename without extension>`, as openai's os.path.splitext(os.path.basename(path))[0]. */
export function outputBasename(audioPath: string): string {
  const name = basename(audioPath);
  return name.slice(0, name.length - extname(name).length);
}

/**
 * Refuses inputs whose outputs would land on the same names (`clip.mp4` and `clip.ogg` both make `clip.*`): the
 * second transcript would silently replace the first. Checked before any work starts.
 */
export function checkOutputNames(audioPaths: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const path of audioPaths) {
    const stem = outputBasename(path);
    const first = seen.get(stem);
    if (first !== undefined) {
      throw new MoxingError('BAD_ARGUMENT', `${first} and ${path} would both be written as ${stem}.*, and the second would replace the first; give them separate runs (or rename one)`);
    }
    seen.set(stem, path);
  }
}

/**
 * Writes `result` next to each other in `outputDir` as `<audio basename>.<ext>` for every format asked for,
 * and returns the paths written, in format order.
 */
export async function writeTranscript(
  result: TranscriptionResult,
  options: Partial<WriteOptions> & { audioPath: string },
): Promise<string[]> {
  const opts = { ...DEFAULT_WRITE_OPTIONS, ...options };
  const formats = resolveOutputFormats(opts.formats);
  const stem = outputBasename(opts.audioPath);
  if (stem === '') {
    throw new MoxingError('BAD_ARGUMENT', `cannot name output files after "${opts.audioPath}"; give the path of an audio file`);
  }
  // Render first: a bad result fails before anything touches the disk.
  const files = formats.map((format) => ({ path: join(opts.outputDir, `${stem}.${format}`), content: renderTranscript(result, format, opts) }));
  await writeFilesAtomically(files);
  return files.map((f) => f.path);
}
