/** audio/vad: Silero VAD v5 speech detection with faster-whisper's rules, and the joined-speech time map. */
export { DEFAULT_VAD, resolveVadOptions } from './options.js';
export type { VadOptions } from './options.js';
export { speechRegions, VAD_FRAME_SAMPLES } from './timestamps.js';
export type { SpeechRegion } from './timestamps.js';
export { SileroVad, VadStream, sileroModelPath, DEFAULT_VAD_RUNTIME, DEFAULT_SILERO_LOAD, VAD_CONTEXT_SAMPLES } from './silero.js';
export type { SileroLoadOptions, VadGraph } from './silero.js';
export { collectChunks, SpeechTimeMap } from './chunks.js';
export type { SpeechChunk } from './chunks.js';
export { detectSpeech, withSeconds } from './detect.js';
export type { DetectSpeechOptions, SpeechSpan } from './detect.js';
