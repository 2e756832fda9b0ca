/**
 * WhisperX's `assign_word_speakers`: each segment and each timed word gets the speaker whose turns overlap it
 * the longest in total (segments: the majority of the overlapping speech); nothing overlapping, no speaker.
 */
import type { Diarization } from './diarize.js';

interface Timed {
  readonly start: number;
  readonly end: number;
}

/** The speaker overlapping [start, end] the longest, or undefined when none overlaps it. */
export function speakerAt(diarization: Diarization, start: number, end: number): string | undefined {
  const overlap = new Map<string, number>();
  for (const turn of diarization.segments) {
    const shared = Math.min(turn.end, end) - Math.max(turn.start, start);
    if (shared > 0) overlap.set(turn.speaker, (overlap.get(turn.speaker) ?? 0) + shared);
  }
  let best: string | undefined;
  for (const [speaker, time] of [...overlap].sort(([a], [b]) => a.localeCompare(b))) {
    if (best === undefined || time > (overlap.get(best) as number)) best = speaker;
  }
  return best;
}

export type WithSpeaker<T> = T & { speaker?: string };

/** A transcript segment with its speaker, and its words with theirs. */
export type AttributedSegment<S> = Omit<S, 'words'> & { speaker?: string; words?: WithSpeaker<S extends { words?: readonly (infer W)[] } ? W : never>[] };

/** A transcript whose segments (and their words) carry the speaker that talks over them. */
export function assignSpeakers<S extends Timed & { words?: readonly Timed[] }, T extends { segments: readonly S[] }>(
  transcript: T,
  diarization: Diarization,
): Omit<T, 'segments'> & { segments: AttributedSegment<S>[] } {
  const tag = <X extends Timed>(x: X): WithSpeaker<X> => {
    const speaker = speakerAt(diarization, x.start, x.end);
    return speaker === undefined ? { ...x } : { ...x, speaker };
  };
  const segments = transcript.segments.map((segment) => {
    const tagged = tag(segment);
    return segment.words ? { ...tagged, words: segment.words.map(tag) } : tagged;
  });
  return { ...transcript, segments: segments as unknown as AttributedSegment<S>[] };
}
