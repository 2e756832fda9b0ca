/**
 * A transcript as the page holds it: OpenAI's verbose_json (what /v1/audio/transcriptions and a job's
 * verbose_json result answer), the library's result shape for the writers, and the lookups playback needs.
 */
import type { Segment, TranscriptionResult } from '../../src/asr/types.js';
import type { OpenAiSegment } from '../../src/formats/openai-json.js';
import { renderTranscript } from '../../src/formats/writers.js';

export interface VerboseWord {
  word: string;
  start: number;
  end: number;
}

/** A verbose_json segment: openai's segment keys, without words (verbose_json lists them apart). */
export type VerboseSegment = Omit<OpenAiSegment, 'words' | 'speaker'>;

export interface VerboseJson {
  task: string;
  language: string;
  duration: number;
  text: string;
  segments: VerboseSegment[];
  words?: VerboseWord[];
  usage?: { type: string; seconds: number };
}

/** Every download the page offers, in the jobs API's names. */
export const DOWNLOAD_FORMATS = ['json', 'verbose_json', 'srt', 'vtt', 'txt', 'tsv'] as const;
export type DownloadFormat = (typeof DOWNLOAD_FORMATS)[number];

export const DOWNLOAD_TYPES: Readonly<Record<DownloadFormat, { ext: string; type: string }>> = {
  json: { ext: 'json', type: 'application/json' },
  verbose_json: { ext: 'verbose.json', type: 'application/json' },
  srt: { ext: 'srt', type: 'application/x-subrip' },
  vtt: { ext: 'vtt', type: 'text/vtt' },
  txt: { ext: 'txt', type: 'text/plain' },
  tsv: { ext: 'tsv', type: 'text/tab-separated-values' },
};

/** The library's result, so the CLI's own writers render the files (the same bytes the API answers). */
export function toResult(verbose: VerboseJson): TranscriptionResult {
  const segments: Segment[] = verbose.segments.map((s) => ({
    id: s.id,
    seek: s.seek,
    start: s.start,
    end: s.end,
    text: s.text,
    tokens: s.tokens,
    temperature: s.temperature,
    avgLogprob: s.avg_logprob,
    compressionRatio: s.compression_ratio,
    noSpeechProb: s.no_speech_prob,
  }));
  return { text: verbose.text, segments, language: verbose.language, duration: verbose.duration };
}

/** A format's file, rendered here from the verbose_json answer (used when the server has no jobs API). */
export function renderDownload(verbose: VerboseJson, format: DownloadFormat): string {
  if (format === 'verbose_json') return JSON.stringify(verbose, null, 2);
  if (format === 'json') return JSON.stringify({ text: verbose.text, ...(verbose.usage ? { usage: verbose.usage } : {}) });
  return renderTranscript(toResult(verbose), format);
}

export interface ShownSegment {
  segment: VerboseSegment;
  /** Indexes into the transcript's words. */
  words: number[];
}

/** Segments with the words that fall in them (verbose_json lists words apart from segments). */
export function wordsBySegment(verbose: VerboseJson): ShownSegment[] {
  const words = verbose.words ?? [];
  const shown = verbose.segments.map((segment) => ({ segment, words: [] as number[] }));
  let s = 0;
  words.forEach((word, i) => {
    const middle = (word.start + word.end) / 2;
    while (s < shown.length - 1 && middle >= shown[s].segment.end) s++;
    if (shown.length > 0) shown[s].words.push(i);
  });
  return shown;
}

/** The last item whose start is at or before `time` (items sorted by start), or -1 before the first. */
export function itemAt(items: readonly { start: number }[], time: number): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].start <= time) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
