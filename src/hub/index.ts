/** hub/: model references, the catalogue, variants, download with resume and verification, the cache, offline mode. */
export { CATALOG, catalogEntry, catalogEntryForRepo, closeAliases } from './catalog.js';
export type { CatalogEntry, ModelTask } from './catalog.js';
export { VARIANT_SUFFIXES, VARIANTS, DEFAULT_VARIANT, isVariant, parseVariant, onnxFile, variantsPresent } from './variants.js';
export type { Variant } from './variants.js';
export { DEFAULT_HUB, resolveHubOptions } from './options.js';
export type { HubOptions, DownloadProgress } from './options.js';
export { parseModelRef, parseHubRef, isRepoId, isRevision } from './reference.js';
export type { ModelRef } from './reference.js';
export { snapshotDir, listCachedSnapshots, repoFromFolder, revisionFromFolder, INCOMPLETE_SUFFIX } from './cache.js';
export type { CachedSnapshot } from './cache.js';
export { downloadFile, resolveUrl, HubHttpError, isNotFound } from './download.js';
export { hubFetch, sameOrigin } from './http.js';
export type { HubFetchOptions } from './http.js';
export type { DownloadFileOptions, DownloadedFile } from './download.js';
export { externalDataFiles } from './external.js';
export { acquireLock, exclusive, LOCK_SUFFIX } from './lock.js';
export { fetchListing, cachedListing, MAX_LISTING_PAGES } from './listing.js';
export type { RepoFile, RepoListing } from './listing.js';
export { resolveModel, locateModel, ensureFiles, missingFiles, pullHint } from './resolve.js';
export type { ResolveModelOptions, ModelLocation } from './resolve.js';
export {
  resolveWhisperModel,
  whisperFiles,
  pickWhisperLayout,
  whisperPullCommand,
  WHISPER_CONFIG_FILES,
  WHISPER_OPTIONAL_FILES,
  WHISPER_STEMS,
} from './whisper.js';
export type { ResolvedWhisperModel, WhisperDecoderFiles, WhisperFileSet, WhisperLayout, WhisperGraphFolder, ResolveWhisperOptions } from './whisper.js';
export { createDownloadProgress } from './progress.js';
export type { ProgressReporter } from './progress.js';
export { pullModel } from './pull.js';
export type { PullOptions, PulledModel } from './pull.js';
export type { ModelLoadOptions } from './load-options.js';
export { resolveOnnxGraph } from './graph.js';
export type { OnnxGraphOptions, OnnxGraphLocation } from './graph.js';
export { pickGguf, resolveGguf, splitGgufSelector, looksLikeGgufRepo } from './gguf.js';
