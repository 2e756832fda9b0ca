/** Defaults of SpeechModelsOptions, apart so the CLI shows them without loading the models' code (ONNX Runtime). */
export const DEFAULT_SPEECH_MODELS = Object.freeze({ crossRequestBatching: true, maxBatchWindows: 8, batchGatherMs: 5 });
