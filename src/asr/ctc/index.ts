/** asr/ctc: wav2vec2 / HuBERT / MMS CTC recognition and WhisperX-style forced alignment. */
export {
  loadCtcConfig,
  isCtcModelDir,
  findModelFile,
  framesForSamples,
  WAV2VEC2_CONV_KERNEL,
  WAV2VEC2_CONV_STRIDE,
} from './config.js';
export type { CtcModelConfig, CtcVocabulary, LoadCtcConfigOptions } from './config.js';
export { greedyCtcDecode, decodeFrameIds, argmaxFrames, logSoftmax } from './decode.js';
export type { CtcToken, CtcWord, GreedyCtcResult } from './decode.js';
export { loadCtcModel, runCtc, ctcEmissions, planChunks, zeroMeanUnitVariance, DEFAULT_CTC_CHUNK } from './model.js';
export type { CtcModel, CtcEmissions, CtcChunkOptions, ChunkPlan, LoadCtcModelOptions } from './model.js';
export { recognizeCtc, groupWords, DEFAULT_CTC_RECOGNIZE } from './recognize.js';
export type { CtcRecognizeOptions } from './recognize.js';
export { forcedAlign, mergeRepeats } from './trellis.js';
export type { PathPoint, CharSpan } from './trellis.js';
export { alignSegment, alignmentTargets, charToId, LANGUAGES_WITHOUT_SPACES } from './align.js';
export type { AlignedChar, AlignedWord, AlignmentTargets, SegmentAlignment } from './align.js';
export { alignTranscript, DEFAULT_MAX_TRELLIS_CELLS } from './align-transcript.js';
export type { AlignOptions, TranscriptSegment } from './align-transcript.js';
export { DEFAULT_ALIGN_MODELS, defaultAligner } from './aligners.js';
export type { AlignerEntry } from './aligners.js';
export { loadCtc, loadAligner, alignerRef, resolveCtcModel, isCtcModelRef } from './load.js';
export type { LoadCtcOptions } from './load.js';
