/** Defaults of the speech server's options, apart so the CLI shows them without loading the models' code (ONNX Runtime). */

/** SpeechModelsOptions'. */
export const DEFAULT_SPEECH_MODELS = Object.freeze({ crossRequestBatching: true, maxBatchWindows: 8, batchGatherMs: 5 });

/** The realtime socket's limits (RealtimePluginOptions'). */
export const DEFAULT_REALTIME = Object.freeze({ maxSessions: 8, idleTimeoutMs: 60_000, maxMessageBytes: 1024 * 1024, maxMessagesPerSecond: 200, maxQueuedSeconds: 60 });
