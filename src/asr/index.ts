/** asr/: speech recognition. The result types are shared by every engine and every writer. */
export type { Segment, Word, Task, TranscriptionResult } from './types.js';
export * from './whisper/index.js';
export { restoreSegment, restoreSpeechTimestamps } from './restore.js';
// The engine-routing transcribe (Whisper or CTC, with alignment) shadows the Whisper-only one of whisper/.
export { transcribe } from './transcribe.js';
export type { SpeechOptions } from './transcribe.js';
