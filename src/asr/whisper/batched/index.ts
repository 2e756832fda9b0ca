/** asr/whisper/batched: VAD windows of up to 30 s, decoded many at once (the Whisper-JAX / faster-whisper pipeline). */
export { transcribeBatchedStream, transcribeWindows } from './transcribe.js';
export type { BatchedModel, WindowSource } from './transcribe.js';
export { DEFAULT_BATCHED, resolveBatchedOptions } from './options.js';
export type { BatchedOptions, BatchedSettings } from './options.js';
export { mergeSpeechRegions, fixedWindows, findWindows, WindowReader } from './windows.js';
export type { AudioWindow, FoundWindows } from './windows.js';
export { aheadByOne, melBatch, windowSamples, type MelBatch } from './mel.js';
export { MelWorker, type MelWorkerOptions } from './prefetch.js';
