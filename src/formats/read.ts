/**
 * Reading a transcript back: subtitles (.srt, .vtt) and a transcription json give timed segments, anything else
 * is plain text. What `moxing align` and `alignTranscript` take as the known words.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { MoxingError } from '../errors.js';
import { parseSrt, parseVtt } from './parse.js';

/** A segment of known text, with the span of audio it covers in seconds. */
export interface TimedText {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Parses transcript `content` by the extension of `name`: segments for srt, vtt and json, else the text itself. */
export function parseTranscript(content: string, name: string): string | TimedText[] {
  if (content.trim() === '') throw new MoxingError('FILE_EMPTY', `the transcript ${name} is empty: give the text spoken in the audio`);
  const ext = extname(name).toLowerCase();
  if (ext === '.srt') return parseSrt(content).map((c) => ({ text: c.text.replace(/\n/g, ' '), start: c.start, end: c.end }));
  if (ext === '.vtt') return parseVtt(content).map((c) => ({ text: c.text.replace(/\n/g, ' '), start: c.start, end: c.end }));
  if (ext !== '.json') return content;
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (cause) {
    // JSON.parse's message quotes the content: name the file, not what is in it.
    throw new MoxingError('BAD_ARGUMENT', `the transcript ${name} is not valid JSON`, { cause });
  }
  const segments = (parsed as { segments?: unknown } | null)?.segments;
  const valid = Array.isArray(segments) && segments.every((s) => s && typeof s.text === 'string' && typeof s.start === 'number' && typeof s.end === 'number');
  if (!valid) throw new MoxingError('BAD_ARGUMENT', `the transcript ${name} has no "segments" list of {text, start, end}: give a transcription json, srt, vtt or plain text`);
  return (segments as TimedText[]).map((s) => ({ text: s.text, start: s.start, end: s.end }));
}

/** Reads and parses a transcript file (see parseTranscript). */
export async function readTranscript(path: string): Promise<string | TimedText[]> {
  if (!existsSync(path)) throw new MoxingError('FILE_NOT_FOUND', `transcript not found: ${path}`);
  return parseTranscript(await readFile(path, 'utf8'), path);
}
