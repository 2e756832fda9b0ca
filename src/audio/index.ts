/** audio/: decoding any input to 16 kHz mono float32, resampling, and Whisper's log-mel features. */
export {
  SAMPLE_RATE,
  N_FFT,
  HOP_LENGTH,
  CHUNK_LENGTH_S,
  N_SAMPLES,
  N_FRAMES,
  FRAMES_PER_SECOND,
} from './constants.js';
export type { MelBins } from './constants.js';
export { decodeAudio, streamAudio, DEFAULT_STREAM } from './decode.js';
export type { DecodeOptions, StreamOptions } from './decode.js';
export { DEFAULT_TRUNCATION } from './truncation.js';
export type { TruncationOptions } from './truncation.js';
export { WAV_LIMITS } from './wav.js';
export { resolveFfmpegPath } from './ffmpeg.js';
export { Resampler, resample, DEFAULT_RESAMPLE } from './resample.js';
export type { ResampleOptions } from './resample.js';
export { logMelSpectrogram, padOrTrim, melWindow, DEFAULT_LOG_MEL } from './mel.js';
export type { LogMel, LogMelOptions } from './mel.js';
export { melFilters } from './mel-filters.js';
export type { MelFilterBank } from './mel-filters.js';
export { createFft } from './fft.js';
export type { Fft } from './fft.js';
export * from './vad/index.js';
