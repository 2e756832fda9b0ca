/** Transformer math: exact parameter counts, training and inference cost, and what fits in memory. */
export type { Architecture, DecoderArchitecture, WhisperArchitecture, VitArchitecture, NormKind, PositionKind } from './architecture.js';
export { countParameters, vitMlpWidth } from './params.js';
export type { ModelSummary, ParameterComponent } from './params.js';
export { MODEL_PRESETS, MODEL_PRESET_IDS, MODEL_PRESET_ALIASES, modelPreset } from './presets.js';
export type { ModelPresetId } from './presets.js';
export { architectureFromHfConfig, SUPPORTED_MODEL_TYPES } from './hf-config.js';
export type { SupportedModelType } from './hf-config.js';
export { architectureFromFile, resolveArchitecture, loadArchitecture, loadHubArchitecture, summarizeModel, MAX_CONFIG_BYTES } from './load.js';
export { CALC_DTYPES, CALC_DTYPE_IDS, bytesPerValue, isCalcDtype, parseCalcDtype } from './dtypes.js';
export type { CalcDtype, CalcDtypeSpec } from './dtypes.js';
export { GPUS, GPU_IDS, DEFAULT_GPU_CHOICE, resolveGpu, peakFlops } from './gpus.js';
export type { GpuId, GpuSpec, GpuChoice, ComputeFormat } from './gpus.js';
export { trainingCost, activationBytes, DEFAULT_TRAINING, OPTIMIZER_BYTES_PER_PARAM, OPTIMIZERS, RECOMPUTE_MODES, TRAINING_PRECISIONS, CHINCHILLA_TOKENS_PER_PARAMETER } from './training.js';
export type { TrainingOptions, TrainingCost, TrainingMemory, ActivationInput, Optimizer, Recompute, TrainingPrecision } from './training.js';
export { inferenceCost, kvCacheBytesPerToken, DEFAULT_INFERENCE, COMMS_PER_LAYER } from './inference.js';
export type { InferenceOptions, InferenceCost, StepTime } from './inference.js';
export { fitBudget, DEFAULT_FIT } from './fit.js';
export type { FitOptions, FitResult, FitRow } from './fit.js';
