/**
 * Fetch everything a model needs into the cache, for `moxing pull` and for callers that want to warm the
 * cache ahead of time. Whisper models get their encoder, decoder layout and configs; single-graph models
 * (DINOv2, DINO, wav2vec2 CTC) get `onnx/model<suffix>.onnx` and their configs.
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { catalogEntryForRepo, type ModelTask } from './catalog.js';
import { snapshotDir } from './cache.js';
import { cachedListing, fetchListing } from './listing.js';
import { resolveHubOptions, type HubOptions } from './options.js';
import { parseModelRef } from './reference.js';
import { ensureFiles, exists, locateModel, recordedCompanions } from './resolve.js';
import { DEFAULT_VARIANT, onnxFile, type Variant } from './variants.js';
import { resolveWhisperModel, WHISPER_STEMS } from './whisper.js';

export interface PullOptions extends Partial<HubOptions> {
  /** @default 'fp32' */
  variant?: Variant;
  /** Whisper only: the decoder that outputs cross attentions (word timestamps). @default false */
  timestamped?: boolean;
}

export interface PulledModel {
  readonly ref: string;
  readonly repo: string | undefined;
  readonly revision: string | undefined;
  readonly task: ModelTask | 'single';
  readonly variant: Variant;
  readonly dir: string;
  /** Repo-relative paths with their sizes on disk. */
  readonly files: readonly { readonly path: string; readonly bytes: number }[];
}

/** Files of a single-graph export besides the graph itself. */
const SINGLE_CONFIG = Object.freeze(['config.json']);
const SINGLE_OPTIONAL = Object.freeze([
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'special_tokens_map.json',
]);

async function detectTask(dir: string, repo: string | undefined, hub: HubOptions, revision: string | undefined): Promise<ModelTask | 'single'> {
  const known = repo ? catalogEntryForRepo(repo) : undefined;
  if (known) return known.task;
  if (repo === undefined) {
    const whisperMarks = [onnxFile(WHISPER_STEMS.encoder, 'fp32'), 'encoder_model.onnx', 'generation_config.json'];
    return (await Promise.all(whisperMarks.map((f) => exists(join(dir, f))))).some(Boolean) ? 'whisper' : 'single';
  }
  const snap = snapshotDir(hub.cacheDir, repo, revision ?? hub.revision);
  const listing = (await cachedListing(snap)) ?? (hub.offline ? undefined : await fetchListing(repo, revision ?? hub.revision, hub, snap));
  if (!listing) return 'whisper';
  return [...listing.keys()].some((p) => /(^|\/)encoder_model[\w]*\.onnx$/.test(p)) ? 'whisper' : 'single';
}

export async function pullModel(ref: string, options: PullOptions = {}): Promise<PulledModel> {
  const variant = options.variant ?? DEFAULT_VARIANT;
  const hub = resolveHubOptions(options);
  const parsed = parseModelRef(ref);
  const location = locateModel(parsed, hub);
  const repo = parsed.kind === 'hub' ? parsed.repo : undefined;
  const task = parsed.kind === 'hub' && parsed.alias ? parsed.alias.task : await detectTask(location.dir, repo, hub, location.revision);

  let dir: string;
  let files: readonly string[];
  let sourceRepo = repo;
  if (task === 'whisper') {
    const model = await resolveWhisperModel(parsed, { ...hub, variant, timestamped: options.timestamped ?? false });
    dir = model.dir;
    sourceRepo = model.repo;
    files = model.files;
  } else {
    const required = [onnxFile('onnx/model', variant), ...SINGLE_CONFIG];
    const pullArgs = variant !== DEFAULT_VARIANT ? `--variant ${variant}` : undefined;
    dir = (await ensureFiles(location, { ...hub, files: required, optionalFiles: SINGLE_OPTIONAL, ...(pullArgs ? { pullArgs } : {}) })).dir;
    const optional = await Promise.all(SINGLE_OPTIONAL.map(async (f) => ((await exists(join(dir, f))) ? f : undefined)));
    files = [...required, ...optional.filter((f): f is string => f !== undefined)];
  }
  if (parsed.kind === 'hub') files = [...files, ...(await recordedCompanions(dir, files))];
  const sized = await Promise.all(files.map(async (path) => ({ path, bytes: (await stat(join(dir, path))).size })));
  return Object.freeze({ ref, repo: sourceRepo, revision: location.revision, task, variant, dir, files: sized });
}
