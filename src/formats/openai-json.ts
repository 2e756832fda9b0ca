/**
 * openai/whisper's json output: its transcribe() result (text, segments, language) in snake_case,
 * serialised byte for byte as Python's `json.dump(result, file)` writes it: ", " and ": " separators,
 * non-ASCII escaped as \uXXXX (ensure_ascii), floats in Python repr ("0.0", "1e-05").
 */
import type { Segment, TranscriptionResult, Word } from '../asr/types.js';

/** A word as openai writes it. */
export interface OpenAiWord {
  word: string;
  start: number;
  end: number;
  probability: number;
}

/** A segment as openai writes it. */
export interface OpenAiSegment {
  id: number;
  seek: number;
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avg_logprob: number;
  compression_ratio: number;
  no_speech_prob: number;
  words?: OpenAiWord[];
}

/** openai's transcribe() result. */
export interface OpenAiResult {
  text: string;
  segments: OpenAiSegment[];
  language: string;
}

/** Our camelCase result in openai's field names and order (extra fields such as duration are left out). */
export function toOpenAiResult(result: TranscriptionResult): OpenAiResult {
  return {
    text: result.text,
    segments: result.segments.map(toOpenAiSegment),
    language: result.language,
  };
}

function toOpenAiSegment(s: Segment): OpenAiSegment {
  const segment: OpenAiSegment = {
    id: s.id,
    seek: s.seek,
    start: s.start,
    end: s.end,
    text: s.text,
    tokens: [...s.tokens],
    temperature: s.temperature,
    avg_logprob: s.avgLogprob,
    compression_ratio: s.compressionRatio,
    no_speech_prob: s.noSpeechProb,
  };
  if (s.words !== undefined) segment.words = s.words.map((w: Word) => ({ word: w.word, start: w.start, end: w.end, probability: w.probability }));
  return segment;
}

/** Python's repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const point = exponent + 1; // digits are 0.d1d2... x 10^point
  if (point <= -4 || point > 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${body}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** An int field; a non-integer falls back to float repr rather than lying. */
function pyInt(x: number): string {
  return Number.isInteger(x) ? String(x) : pyFloat(x);
}

/** Python json string with ensure_ascii: everything outside printable ASCII as \uXXXX (UTF-16 units). */
export function pyString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += text[i];
  }
  return out + '"';
}

function wordJson(w: OpenAiWord): string {
  return `{"word": ${pyString(w.word)}, "start": ${pyFloat(w.start)}, "end": ${pyFloat(w.end)}, "probability": ${pyFloat(w.probability)}}`;
}

function segmentJson(s: OpenAiSegment): string {
  const fields = [
    `"id": ${pyInt(s.id)}`,
    `"seek": ${pyInt(s.seek)}`,
    `"start": ${pyFloat(s.start)}`,
    `"end": ${pyFloat(s.end)}`,
    `"text": ${pyString(s.text)}`,
    `"tokens": [${s.tokens.map(pyInt).join(', ')}]`,
    `"temperature": ${pyFloat(s.temperature)}`,
    `"avg_logprob": ${pyFloat(s.avg_logprob)}`,
    `"compression_ratio": ${pyFloat(s.compression_ratio)}`,
    `"no_speech_prob": ${pyFloat(s.no_speech_prob)}`,
  ];
  if (s.words !== undefined) fields.push(`"words": [${s.words.map(wordJson).join(', ')}]`);
  return `{${fields.join(', ')}}`;
}

/** The json file openai writes for `result` (no trailing newline, as json.dump). */
export function renderOpenAiJson(result: TranscriptionResult): string {
  const r = toOpenAiResult(result);
  return `{"text": ${pyString(r.text)}, "segments": [${r.segments.map(segmentJson).join(', ')}], "language": ${pyString(r.language)}}`;
}
