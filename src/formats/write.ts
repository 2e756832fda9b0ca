/**
 * Writing transcripts to disk atomically: every file is rendered in memory, written to a temporary file in
 * the output folder, then renamed over `<audio basename>.<ext>`. A reader never sees a partial file, and a
 * failure removes the temporary files it made.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
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
  const temps: string[] = [];
  try {
    await mkdir(opts.outputDir, { recursive: true });
    for (const file of files) {
      const temp = join(opts.outputDir, `.${stem}.${randomBytes(6).toString('hex')}.tmp`);
      temps.push(temp);
      await writeFile(temp, file.content, { encoding: 'utf8', flag: 'wx' });
    }
    for (let i = 0; i < files.length; i++) {
      await rename(temps[i], files[i].path);
      temps[i] = '';
    }
  } catch (error) {
    await Promise.all(temps.filter((t) => t !== '').map((t) => rm(t, { force: true })));
    throw new MoxingError('OUTPUT_FAILED', `cannot write the transcript to ${opts.outputDir}: ${(error as Error).message}; choose a writable --output-dir`, { cause: error });
  }
  return files.map((f) => f.path);
}
