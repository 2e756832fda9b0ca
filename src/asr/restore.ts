/**
 * faster-whisper's `restore_speech_timestamps`: segments decoded from joined speech get times in the original
 * audio. With words, each word is mapped through the region holding its middle (so a word never straddles a
 * cut) and the segment spans its first to last word; without, the start maps as a start and the end as an end.
 */
import type { Segment, Word } from './types.js';
import type { SpeechTimeMap } from '../audio/vad/chunks.js';

export function restoreSegment(segment: Segment, map: SpeechTimeMap): Segment {
  if (segment.words && segment.words.length > 0) {
    const words: Word[] = segment.words.map((w) => {
      const region = map.regionIndex((w.start + w.end) / 2);
      return { ...w, start: map.originalTime(w.start, false, region), end: map.originalTime(w.end, false, region) };
    });
    return { ...segment, words, start: words[0].start, end: words[words.length - 1].end };
  }
  return { ...segment, start: map.originalTime(segment.start), end: map.originalTime(segment.end, true) };
}

export async function* restoreSpeechTimestamps(segments: AsyncIterable<Segment>, map: SpeechTimeMap): AsyncGenerator<Segment> {
  for await (const segment of segments) yield restoreSegment(segment, map);
}
