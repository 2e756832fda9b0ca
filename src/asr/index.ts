/** asr/: speech recognition. The result types are shared by every engine and every writer. */
export type { Segment, Word, Task, TranscriptionResult } from './types.js';
export * from './whisper/index.js';
export { restoreSegment, restoreSpeechTimestamps } from './restore.js';
