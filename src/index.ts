/**
 * The public library API of moxing, listed by hand: what a user calls, the options and results they pass and
 * get, and the defaults those options document. Internals (decoder runners, logit filters, graph rewriters,
 * tensor helpers) stay inside their folders; the README's "Library" sections show each entry point in use.
 */

// Errors: one type, a code per failure a user can act on.
export { MoxingError, ERROR_CODES, isMoxingError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { VERSION } from './version.js';

// Models: references (alias, hub id or folder), variants, the cache, offline use.
export { CATALOG, VARIANTS, DEFAULT_VARIANT, DEFAULT_HUB, pullModel, resolveModel, resolveWhisperModel, listCachedSnapshots } from './hub/index.js';
export type { CatalogEntry, Variant, HubOptions, ModelLoadOptions, DownloadProgress, PullOptions, PulledModel } from './hub/index.js';
export { DEFAULT_RUNTIME } from './runtime/index.js';
export type { RuntimeOptions, Device } from './runtime/index.js';

// Audio: any input to 16 kHz mono samples, Whisper's log-mel, Silero VAD.
export { decodeAudio, streamAudio, logMelSpectrogram, SAMPLE_RATE, DEFAULT_VAD, SileroVad, detectSpeech, speechRegions, collectChunks, SpeechTimeMap } from './audio/index.js';
export type { DecodeOptions, StreamOptions, TruncationOptions, VadOptions, SpeechRegion, SpeechSpan, DetectSpeechOptions } from './audio/index.js';

// Speech: Whisper transcription and translation, batched long-form, word times; CTC recognition and alignment.
export { transcribe, transcribeStream, WhisperModel, DEFAULT_TRANSCRIBE, DEFAULT_BATCHED, DEFAULT_WORD_TIMING, detectLanguage, restoreSegment, restoreSpeechTimestamps } from './asr/index.js';
export type { TranscribeOptions, TranscribeCheckpoint, SpeechOptions, TranscribeProgress, BatchedOptions, LoadWhisperOptions, AlignmentHeadsOption } from './asr/index.js';
export type { TranscriptionResult, Segment, Word, Task } from './asr/index.js';
// Live speech: a stream of audio in, partial and committed text out (LocalAgreement-2 or VAD endpointing).
export { transcribeLive, openLiveStream, DEFAULT_LIVE, DEFAULT_TURN_DETECTION } from './asr/live/index.js';
export type { LiveOptions, LiveEvent, LivePolicy, TurnDetection } from './asr/live/index.js';
export { recognizeCtc, alignTranscript, loadCtc, loadAligner, DEFAULT_ALIGN_MODELS } from './asr/ctc/index.js';
export type { CtcModel, LoadCtcOptions, CtcRecognizeOptions, AlignOptions, TranscriptSegment } from './asr/ctc/index.js';

// Transcripts: txt, vtt, srt, tsv, json (openai's layout) out, and back in.
export { writeTranscript, renderTranscript, readTranscript, parseTranscript, OUTPUT_FORMATS, DEFAULT_WRITE_OPTIONS, DEFAULT_SUBTITLE_OPTIONS } from './formats/index.js';
export type { WriteOptions, SubtitleOptions, OutputFormat, TimedText } from './formats/index.js';
export { LANGUAGES, toLanguageCode } from './text/index.js';

// Vision: DINOv2/DINO features, image search and deduplication, classification, pictures.
export {
  VisionModel,
  loadImage,
  embedImages,
  patchFeatures,
  indexImages,
  searchIndex,
  dedupeFolder,
  trainImageClassifier,
  pcaPicture,
  attentionPicture,
  encodeNpy,
  decodeNpy,
  DEFAULT_EMBED,
  DEFAULT_VISION_MODEL,
  DEFAULT_KNN,
} from './vision/index.js';
export type { VisionModelOptions, Pooling, EmbedOptions, IndexReport, SearchIndexOptions, DedupeFolderResult, ImageClassifier } from './vision/index.js';

// Vector indexes: embedded HNSW + SQLite by default, pgvector for scale-out.
export { openVectorIndex, HnswIndex, PgVectorIndex } from './vectors/index.js';
export type { VectorIndex, SearchHit, VectorRecord } from './vectors/index.js';

// Transformer math.
export { countParameters, trainingCost, inferenceCost, fitBudget, loadArchitecture, MODEL_PRESETS, GPUS } from './calc/index.js';
export type { Architecture, ModelSummary, TrainingOptions, TrainingCost, InferenceOptions, InferenceCost, FitOptions, FitResult } from './calc/index.js';

// Quantization of ONNX exports.
export { quantizeModelDir, quantizeFile, quantizeModel, DEFAULT_QUANTIZE } from './quantize/index.js';
export type { QuantizeOptions, QuantizedFile } from './quantize/index.js';

// The HTTP server, with its security rules.
export { buildApp, DEFAULT_SECURITY } from './server/index.js';
export type { AppOptions, SecurityOptions } from './server/index.js';
export { createServer, DEFAULT_SERVER, DEFAULT_MODEL_POOL } from './server/index.js';
export type { ServerOptions, MoxingServer, ModelPoolSettings } from './server/index.js';

// Speaker diarization: who spoke when, and speaker-attributed transcripts.
export { diarize, loadDiarizer, assignSpeakers, formatDiarization, kaldiFbank, SPEAKER_MODELS } from './speakers/index.js';
export type { Diarization, Diarizer, DiarizerOptions, DiarizeOptions, KnownSpeaker, SpeakerTurn, DiarizationFormat, FbankOptions } from './speakers/index.js';

// Language models: chat and raw completion on ONNX Runtime or llama.cpp (GGUF).
export { loadChatModel, chat, generate, DEFAULT_SAMPLING, DEFAULT_GENERATE, DEFAULT_JSON_LIMITS } from './chat/index.js';
export type { ChatModel, ChatMessage, ChatOptions, ChatResult, ChatDelta, ChatLoadOptions, GenerateOptions, SamplingOptions, ToolDefinition, ToolCall } from './chat/index.js';
export { DEFAULT_IMAGE_LIMITS, inlineRemoteImages, fetchRemoteImage, principledChat, chatWithPrinciples, loadPrinciples, parsePrinciples } from './chat/index.js';
export type { ImageLimits, ContentPart, RemoteImageOptions, PrincipledResult } from './chat/index.js';
// Text embeddings: sentence vectors on ONNX Runtime (BERT-like exports) or llama.cpp (GGUF).
export { loadEmbeddingModel } from './embeddings/index.js';
export type { EmbeddingModel, EmbeddingInput, EmbeddingResult, EmbeddingLoadOptions } from './embeddings/index.js';

// Durable transcription jobs: SQLite in-process by default, BullMQ on Redis to scale out.
export { openJobBackend, EmbeddedJobs, DEFAULT_JOBS, signWebhook, JOB_STATUSES } from './jobs/index.js';
export type { JobBackend, JobEvents, JobOptions, JobRecord, JobRequest, JobStatus } from './jobs/index.js';
