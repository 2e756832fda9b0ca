/**
 * Turn detection as OpenAI's `server_vad` describes it, over Silero's per-frame speech probabilities: speech
 * starts at the first frame at or above `threshold`, and stops once `silenceDurationMs` of frames below it
 * have passed (with silero's hysteresis: frames between threshold - 0.15 and threshold continue whatever state
 * holds). Pure: tested on scripted probabilities; the model runs in transcriber.ts.
 */
import { MoxingError } from '../../errors.js';
import { SAMPLE_RATE, VAD_FRAME_SAMPLES } from '../../audio/index.js';

export interface TurnDetection {
  /** Speech probability that starts speech. @default 0.5 */
  readonly threshold: number;
  /** Audio kept before the first speech frame (and after the last). @default 300 */
  readonly prefixPaddingMs: number;
  /** Silence that ends the turn. @default 500 */
  readonly silenceDurationMs: number;
}

export const DEFAULT_TURN_DETECTION: Readonly<TurnDetection> = Object.freeze({ threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });

export function resolveTurnDetection(options: Partial<TurnDetection> = {}): TurnDetection {
  const t = { ...DEFAULT_TURN_DETECTION, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as TurnDetection;
  const check = (name: keyof TurnDetection, min: number, max: number): void => {
    const v = t[name];
    if (typeof v !== 'number' || !(v >= min && v <= max)) throw new MoxingError('BAD_ARGUMENT', `turn detection ${name} must be a number from ${min} to ${max}, got ${String(v)}`);
  };
  check('threshold', 0, 1);
  check('prefixPaddingMs', 0, 10_000);
  check('silenceDurationMs', 0, 60_000);
  return Object.freeze(t);
}

/** A turn boundary, in samples of the stream: where speech starts, or where it stopped (the last speech frame's end). */
export type TurnEdge = { readonly kind: 'start' | 'stop'; readonly sample: number; readonly decidedAt: number };

export class Endpointer {
  private speaking = false;
  private silenceStart: number | undefined;
  private frames = 0;
  private readonly negThreshold: number;
  private readonly silenceSamples: number;

  constructor(private readonly turn: TurnDetection) {
    this.negThreshold = Math.max(turn.threshold - 0.15, 0.01);
    this.silenceSamples = (turn.silenceDurationMs * SAMPLE_RATE) / 1000;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Where the silence heard since the last speech frame began, while speech goes on; undefined otherwise. */
  get silenceSince(): number | undefined {
    return this.speaking ? this.silenceStart : undefined;
  }

  /** Samples the VAD has judged: a turn can start no earlier than here. */
  get frontier(): number {
    return this.frames * VAD_FRAME_SAMPLES;
  }

  /** The edges decided by the next frames' probabilities. */
  feed(probs: ArrayLike<number>): TurnEdge[] {
    const edges: TurnEdge[] = [];
    for (let i = 0; i < probs.length; i++) {
      const at = this.frames++ * VAD_FRAME_SAMPLES;
      const end = at + VAD_FRAME_SAMPLES;
      const p = probs[i];
      if (p >= this.turn.threshold) {
        this.silenceStart = undefined;
        if (!this.speaking) {
          this.speaking = true;
          edges.push({ kind: 'start', sample: at, decidedAt: end });
        }
      } else if (this.speaking && p < this.negThreshold) {
        this.silenceStart ??= at;
        if (end - this.silenceStart >= this.silenceSamples) {
          edges.push({ kind: 'stop', sample: this.silenceStart, decidedAt: end });
          this.speaking = false;
          this.silenceStart = undefined;
        }
      }
    }
    return edges;
  }

  /** Ends the current turn without a stop edge (a manual commit). */
  reset(): void {
    this.speaking = false;
    this.silenceStart = undefined;
  }
}
