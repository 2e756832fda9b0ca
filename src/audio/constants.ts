/** Whisper's audio hyper-parameters (openai/whisper audio.py), with their units. */

/** Samples per second of every waveform the models see. */
export const SAMPLE_RATE = 16000;
/** FFT size in samples (25 ms window). */
export const N_FFT = 400;
/** Hop between frames in samples (10 ms). */
export const HOP_LENGTH = 160;
/** Length of one model window in seconds. */
export const CHUNK_LENGTH_S = 30;
/** Samples in one 30 s window: 480000. */
export const N_SAMPLES = CHUNK_LENGTH_S * SAMPLE_RATE;
/** Mel frames in one 30 s window: 3000. */
export const N_FRAMES = N_SAMPLES / HOP_LENGTH;
/** Mel frames per second: 100 (10 ms each). */
export const FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH;
/** Mel bin counts the Whisper models use: 80, and 128 for large-v3 / turbo. */
export type MelBins = 80 | 128;
