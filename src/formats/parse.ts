/** SRT and WebVTT readers, for round trips and for checking what the writers produced. */
import { MoxingError } from '../errors.js';

export interface ParsedCue {
  /** Seconds, millisecond precision. */
  readonly start: number;
  readonly end: number;
  /** Cue text; several lines are joined with "\n". */
  readonly text: string;
}

/** `[HH:]MM:SS(.|,)mmm` -> seconds. */
function parseTime(text: string, where: string): number {
  const m = /^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})$/.exec(text.trim());
  if (m === null) throw new MoxingError('BAD_ARGUMENT', `${where}: "${text}" is not a time stamp like 00:01:02,345`);
  const ms = Number(m[1] ?? 0) * 3_600_000 + Number(m[2]) * 60_000 + Number(m[3]) * 1000 + Number(m[4]);
  return ms / 1000;
}

const ARROW = ' --> ';

/** Cues of a file: blocks of [identifier], `start --> end[ settings]`, text lines, separated by blank lines. */
function parseCues(content: string, kind: string, skipHeader: boolean): ParsedCue[] {
  const lines = content.replace(/^\ufeff/, '').split(/\r\n|\r|\n/);
  let i = 0;
  if (skipHeader) {
    if (!/^WEBVTT(?:[ \t].*)?$/.test(lines[0] ?? '')) throw new MoxingError('BAD_ARGUMENT', `${kind}: the first line must be "WEBVTT"`);
    // The header block runs to the first blank line.
    while (i < lines.length && lines[i] !== '') i++;
  }
  const cues: ParsedCue[] = [];
  while (i < lines.length) {
    if (lines[i].trim() === '') {
      i++;
      continue;
    }
    // A VTT NOTE/STYLE/REGION block carries no cue.
    if (skipHeader && /^(NOTE|STYLE|REGION)(?:[ \t]|$)/.test(lines[i])) {
      while (i < lines.length && lines[i] !== '') i++;
      continue;
    }
    let timing = lines[i];
    if (!timing.includes(ARROW.trim())) {
      i++; // cue identifier (the SRT index)
      timing = lines[i] ?? '';
    }
    const at = timing.indexOf('-->');
    if (at < 0) throw new MoxingError('BAD_ARGUMENT', `${kind} line ${i + 1}: expected "start --> end", got "${timing}"`);
    const where = `${kind} line ${i + 1}`;
    const start = parseTime(timing.slice(0, at), where);
    const end = parseTime(timing.slice(at + 3).trim().split(/[ \t]/)[0], where);
    i++;
    const text: string[] = [];
    while (i < lines.length && lines[i] !== '') text.push(lines[i++]);
    cues.push({ start, end, text: text.join('\n') });
    i++; // the blank line ending the cue (an empty text leaves one more, skipped above)
  }
  return cues;
}

export function parseSrt(content: string): ParsedCue[] {
  return parseCues(content, 'SRT', false);
}

export function parseVtt(content: string): ParsedCue[] {
  return parseCues(content, 'WebVTT', true);
}
