/**
 * openai/whisper's json output: its transcribe() result (text, segments, language) in snake_case,
 * serialised byte for byte as Python's `json.dump(result, file)` writes it: ", " and ": " separators,
 * non-ASCII escaped as \uXXXX (ensure_ascii), floats in Python repr ("0.0", "1e-05").
 */
import type { Segment, TranscriptionResult, Word } from '../asr/types.js';
import { pyFloat, pyString } from '../text/python.js';

/** A word as openai writes it. */
export interface OpenAiWord {
  word: string;
  start: number;
  end: number;
  probability: number;
  speaker?: string;
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
  /** After diarization, as WhisperX writes it. */
  speaker?: string;
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
  if (s.words !== undefined) segment.words = s.words.map((w: Word) => ({ word: w.word, start: w.start, end: w.end, probability: w.probability, ...(w.speaker === undefined ? {} : { speaker: w.speaker }) }));
  if (s.speaker !== undefined) segment.speaker = s.speaker;
  return segment;
}

/** An int field; a non-integer falls back to float repr rather than lying. */
function pyInt(x: number): string {
  return Number.isInteger(x) ? String(x) : pyFloat(x);
}


function wordJson(w: OpenAiWord): string {
  const speaker = w.speaker === undefined ? '' : `, "speaker": ${pyString(w.speaker)}`;
  return `{"word": ${pyString(w.word)}, "start": ${pyFloat(w.start)}, "end": ${pyFloat(w.end)}, "probability": ${pyFloat(w.probability)}${speaker}}`;
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
  if (s.speaker !== undefined) fields.push(`"speaker": ${pyString(s.speaker)}`);
  return `{${fields.join(', ')}}`;
}

/** The json file openai writes for `result` (no trailing newline, as json.dump). */
export function renderOpenAiJson(result: TranscriptionResult): string {
  const r = toOpenAiResult(result);
  return `{"text": ${pyString(r.text)}, "segments": [${r.segments.map(segmentJson).join(', ')}], "language": ${pyString(r.language)}}`;
}
