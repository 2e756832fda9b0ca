/** server/: the HTTP app, its hardening rules and its capability plugins. */
export { buildApp } from './app.js';
export type { AppOptions } from './app.js';
export { installErrorHandler, parseBody, publicError, redact } from './errors.js';
export { installHardening, serverLimits, hostName } from './hardening.js';
export { DEFAULT_SECURITY, LOOPBACK_HOSTS, resolveSecurityOptions, isLoopbackHost } from './options.js';
export type { SecurityOptions } from './options.js';
export { ModelAllowList, publicModelName } from './models.js';
export { WorkLimiter } from './work-limiter.js';
export { imagesPlugin, decodeImageString, DEFAULT_IMAGES_PLUGIN, EmbeddingsRequest, SearchRequest, ClassifyRequest } from './images.js';
export type { ImagesPluginOptions } from './images.js';
export { calcPlugin, ParamsRequest, TrainRequest, InferRequest, FitRequest } from './calc.js';
export type { CalcPluginOptions } from './calc.js';
export { audioPlugin, DEFAULT_AUDIO_PLUGIN } from './audio.js';
export type { AudioPluginOptions } from './audio.js';
export { jobsPlugin } from './jobs.js';
export type { JobsPluginOptions } from './jobs.js';
export { whisperLoader } from './whisper-loader.js';
export type { WhisperLoader } from './whisper-loader.js';
