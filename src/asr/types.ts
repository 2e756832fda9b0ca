/**
 * The result types every speech pipeline returns and every writer reads. They follow openai/whisper's
 * `transcribe()` result field for field (its json output is these objects serialised), with times in
 * seconds of the original audio.
 */

export interface Word {
  readonly word: string;
  /** Seconds from the start of the audio. */
  readonly start: number;
  readonly end: number;
  /** Mean token probability of the word (openai: `probability`). */
  readonly probability: number;
  /** Who says it, after diarization (WhisperX's `speaker`). */
  readonly speaker?: string;
}

export interface Segment {
  readonly id: number;
  /** Offset of the 30 s window this segment was decoded from, in mel frames (10 ms each), as openai reports it. */
  readonly seek: number;
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** Text and timestamp token ids of the segment (no special tokens). */
  readonly tokens: readonly number[];
  readonly temperature: number;
  readonly avgLogprob: number;
  readonly compressionRatio: number;
  readonly noSpeechProb: number;
  /**
   * Present when asked for (TranscribeOptions.tokenLogprobs): the decoder's log-prob of each of `tokens` when
   * it was sampled, the terms of the window's avgLogprob.
   */
  readonly tokenLogprobs?: readonly number[];
  /** Present when word timestamps were asked for. */
  readonly words?: readonly Word[];
  /** Who speaks it, after diarization (WhisperX's `speaker`). */
  readonly speaker?: string;
}

export type Task = 'transcribe' | 'translate';

export interface TranscriptionResult {
  /** Concatenated segment texts. */
  readonly text: string;
  readonly segments: readonly Segment[];
  /** ISO 639-1 code (or whisper's code, e.g. "haw", "yue") of the spoken or given language. */
  readonly language: string;
  /** Duration of the input audio in seconds. */
  readonly duration?: number;
  /** Language detection distribution, when detection ran: code -> probability. */
  readonly languageProbs?: Readonly<Record<string, number>>;
}
