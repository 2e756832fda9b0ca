/** Writing a diarization: RTTM (NIST), JSON, or plain text lines. */
import type { Diarization } from './diarize.js';

export const DIARIZATION_FORMATS = ['rttm', 'json', 'txt'] as const;
export type DiarizationFormat = (typeof DIARIZATION_FORMATS)[number];

const seconds = (t: number) => t.toFixed(3);

/** The text of `diarization` in `format`; `fileId` is RTTM's second field (the file's name without extension). */
export function formatDiarization(diarization: Diarization, format: DiarizationFormat, fileId = 'audio'): string {
  if (format === 'json') {
    const rounded = diarization.segments.map((s) => ({ start: Number(seconds(s.start)), end: Number(seconds(s.end)), speaker: s.speaker }));
    return `${JSON.stringify({ speakers: diarization.speakers, segments: rounded }, null, 2)}\n`;
  }
  if (format === 'rttm') {
    // RTTM fields are space-separated: a file id or speaker with spaces would shift every column
    const id = fileId.replace(/\s+/g, '_') || 'audio';
    return diarization.segments
      .map((s) => `SPEAKER ${id} 1 ${seconds(s.start)} ${seconds(s.end - s.start)} <NA> <NA> ${s.speaker.replace(/\s+/g, '_')} <NA> <NA>\n`)
      .join('');
  }
  return diarization.segments.map((s) => `${seconds(s.start)} ${seconds(s.end)} ${s.speaker}\n`).join('');
}
