/**
 * The text of each output file, as openai/whisper's writers (utils.py WriteTXT, WriteVTT, WriteSRT,
 * WriteTSV, WriteJSON) print it. Rendering is pure; writing to disk is write.ts.
 */
import type { TranscriptionResult } from '../asr/types.js';
import { MoxingError } from '../errors.js';
import { pyRound, pyStrip } from '../text/python.js';
import { renderOpenAiJson } from './openai-json.js';
import { iterateCues, speakerPrefix, type SubtitleOptions } from './subtitles.js';
import { formatTimestamp } from './timestamp.js';

/** Every single output format, in openai's order; `all` writes each of them. */
export const OUTPUT_FORMATS = ['txt', 'vtt', 'srt', 'tsv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type OutputFormatOption = OutputFormat | 'all';

/** One line per segment, stripped. */
export function renderTxt(result: TranscriptionResult): string {
  return result.segments.map((s) => speakerPrefix(s.speaker) + pyStrip(s.text) + '\n').join('');
}

/** WebVTT: header, then `MM:SS.mmm --> MM:SS.mmm` cues (hours only when needed). */
export function renderVtt(result: TranscriptionResult, options: Partial<SubtitleOptions> = {}): string {
  let out = 'WEBVTT\n\n';
  for (const cue of iterateCues(result, { alwaysIncludeHours: false, decimalMarker: '.' }, options)) {
    out += `${cue.start} --> ${cue.end}\n${cue.text}\n\n`;
  }
  return out;
}

/** SubRip: numbered cues from 1 with `HH:MM:SS,mmm` times. */
export function renderSrt(result: TranscriptionResult, options: Partial<SubtitleOptions> = {}): string {
  let out = '';
  let index = 1;
  for (const cue of iterateCues(result, { alwaysIncludeHours: true, decimalMarker: ',' }, options)) {
    out += `${index++}\n${cue.start} --> ${cue.end}\n${cue.text}\n\n`;
  }
  return out;
}

/** Tab-separated `start end text`, times in integer milliseconds so no locale can garble them. */
export function renderTsv(result: TranscriptionResult): string {
  let out = 'start\tend\ttext\n';
  for (const s of result.segments) {
    out += `${pyRound(1000 * s.start)}\t${pyRound(1000 * s.end)}\t${(speakerPrefix(s.speaker) + pyStrip(s.text)).replaceAll('\t', ' ')}\n`;
  }
  return out;
}

/** openai's json result. */
export function renderJson(result: TranscriptionResult): string {
  return renderOpenAiJson(result);
}

/** The file content of one format. */
export function renderTranscript(result: TranscriptionResult, format: OutputFormat, options: Partial<SubtitleOptions> = {}): string {
  switch (format) {
    case 'txt':
      return renderTxt(result);
    case 'vtt':
      return renderVtt(result, options);
    case 'srt':
      return renderSrt(result, options);
    case 'tsv':
      return renderTsv(result);
    case 'json':
      return renderJson(result);
    default:
      throw new MoxingError('BAD_ARGUMENT', `unknown output format "${String(format)}"; use one of ${[...OUTPUT_FORMATS, 'all'].join(', ')}`);
  }
}

/** Expands `all` and checks each name; duplicates are dropped, order kept. */
export function resolveOutputFormats(formats: OutputFormatOption | readonly OutputFormatOption[] | string | readonly string[]): OutputFormat[] {
  const list = typeof formats === 'string' ? [formats] : [...formats];
  const out: OutputFormat[] = [];
  for (const name of list) {
    if (name === 'all') out.push(...OUTPUT_FORMATS);
    else if ((OUTPUT_FORMATS as readonly string[]).includes(name)) out.push(name as OutputFormat);
    else throw new MoxingError('BAD_ARGUMENT', `unknown output format "${name}"; use one of ${[...OUTPUT_FORMATS, 'all'].join(', ')}`);
  }
  if (out.length === 0) throw new MoxingError('BAD_ARGUMENT', `no output format given; use one of ${[...OUTPUT_FORMATS, 'all'].join(', ')}`);
  return [...new Set(out)];
}

/** The line openai's verbose transcribe prints per segment: `[00:00.000 --> 00:04.200]` then the raw text. */
export function formatSegmentLine(segment: { readonly start: number; readonly end: number; readonly text: string }): string {
  return `[${formatTimestamp(segment.start)} --> ${formatTimestamp(segment.end)}] ${segment.text}`;
}
