/** `detectSpeech`: the model and the timestamp rules put together for a whole in-memory input. */
import { SAMPLE_RATE } from '../constants.js';
import type { RuntimeOptions } from '../../runtime/index.js';
import { SileroVad } from './silero.js';
import { speechRegions, type SpeechRegion } from './timestamps.js';
import type { VadOptions } from './options.js';

/** A speech region in samples and seconds. */
export interface SpeechSpan extends SpeechRegion {
  readonly startS: number;
  readonly endS: number;
}

export interface DetectSpeechOptions extends Partial<VadOptions> {
  /** A loaded model to reuse. @default the bundled Silero v5, loaded (and cached) on first use */
  readonly vad?: SileroVad;
  /** Runtime options when the model is loaded here. @default DEFAULT_VAD_RUNTIME (one thread) */
  readonly runtime?: RuntimeOptions;
}

/** Speech regions of 16 kHz mono `samples`, with faster-whisper's rules and DEFAULT_VAD unless overridden. */
export async function detectSpeech(samples: Float32Array, options: DetectSpeechOptions = {}): Promise<SpeechSpan[]> {
  const { vad: given, runtime, ...vadOptions } = options;
  const vad = given ?? (await SileroVad.load(undefined, { runtime }));
  const probs = await vad.probabilities(samples);
  return speechRegions(probs, samples.length, vadOptions).map((r) => withSeconds(r));
}

export function withSeconds(region: SpeechRegion): SpeechSpan {
  return { start: region.start, end: region.end, startS: region.start / SAMPLE_RATE, endS: region.end / SAMPLE_RATE };
}
