/**
 * Cutting speech out of the audio and mapping times back: faster-whisper's `collect_chunks` and
 * `SpeechTimestampsMap`. Whisper runs on the speech regions joined end to end; a time `t` in that joined audio
 * lies in one region, and the original time is `t` plus all the silence removed before that region.
 */
import { SAMPLE_RATE } from '../constants.js';
import type { SpeechRegion } from './timestamps.js';

/** One piece of joined speech: its audio, where it starts in the joined timeline, and the regions it holds. */
export interface SpeechChunk {
  readonly samples: Float32Array;
  /** Start of this piece in the joined speech, in seconds. */
  readonly offsetS: number;
  readonly durationS: number;
  readonly regions: readonly SpeechRegion[];
}

/**
 * Joins the regions' audio into pieces of at most `maxDurationS` seconds each (a region is never split: one
 * longer than the limit makes a piece of its own). With no regions, one empty piece, as faster-whisper returns.
 */
export function collectChunks(
  samples: Float32Array,
  regions: readonly SpeechRegion[],
  maxDurationS = Number.POSITIVE_INFINITY,
): SpeechChunk[] {
  if (regions.length === 0) return [{ samples: new Float32Array(0), offsetS: 0, durationS: 0, regions: [] }];
  const limit = maxDurationS * SAMPLE_RATE;
  const chunks: SpeechChunk[] = [];
  let group: SpeechRegion[] = [];
  let groupSamples = 0;
  let offset = 0;
  const close = (): void => {
    const joined = new Float32Array(groupSamples);
    let at = 0;
    for (const r of group) {
      joined.set(samples.subarray(r.start, r.end), at);
      at += r.end - r.start;
    }
    chunks.push({ samples: joined, offsetS: offset / SAMPLE_RATE, durationS: groupSamples / SAMPLE_RATE, regions: group });
    offset += groupSamples;
  };
  for (const region of regions) {
    const length = region.end - region.start;
    if (group.length > 0 && groupSamples + length > limit) {
      close();
      group = [];
      groupSamples = 0;
    }
    group.push(region);
    groupSamples += length;
  }
  close();
  return chunks;
}

/** Maps times in the joined speech back to times in the original audio. */
export class SpeechTimeMap {
  /** End of each region in the joined speech, in samples (ascending). */
  private readonly regionEnds: number[] = [];
  /** Silence removed before each region, in seconds. */
  private readonly silenceBeforeS: number[] = [];

  /** @param timePrecision decimals kept, as faster-whisper rounds (2: Whisper's 20 ms timestamp grid). */
  constructor(
    regions: readonly SpeechRegion[],
    private readonly timePrecision = 2,
  ) {
    let previousEnd = 0;
    let silent = 0;
    for (const r of regions) {
      silent += r.start - previousEnd;
      previousEnd = r.end;
      this.regionEnds.push(r.end - silent);
      this.silenceBeforeS.push(silent / SAMPLE_RATE);
    }
  }

  /**
   * The original time of `timeS` (seconds of joined speech). `isEnd` puts a time that falls exactly on a region
   * boundary at the end of the earlier region rather than the start of the next.
   */
  originalTime(timeS: number, isEnd = false, regionIndex = this.regionIndex(timeS, isEnd)): number {
    if (this.silenceBeforeS.length === 0) return timeS;
    const scale = 10 ** this.timePrecision;
    return Math.round((this.silenceBeforeS[regionIndex] + timeS) * scale) / scale;
  }

  /** Index of the region holding `timeS` of joined speech (the last one for times past the end). */
  regionIndex(timeS: number, isEnd = false): number {
    const sample = Math.trunc(timeS * SAMPLE_RATE);
    if (isEnd) {
      const exact = this.regionEnds.indexOf(sample);
      if (exact >= 0) return exact;
    }
    // bisect_right: the first region whose end is after `sample`.
    let lo = 0;
    let hi = this.regionEnds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.regionEnds[mid] <= sample) lo = mid + 1;
      else hi = mid;
    }
    return Math.min(lo, this.regionEnds.length - 1);
  }
}
