/**
 * The files of a Whisper export (optimum's layout, as the onnx-community repos ship it) and the choice
 * between its two decoder layouts: `decoder_model_merged` (one graph with a `use_cache_branch` If node), or
 * the split pair `decoder_model` + `decoder_with_past_model`. The merged graph wins when both are present.
 * Word timestamps need a merged decoder that also outputs cross attentions: `decoder_model_merged_timestamped`
 * in the same repo, or the catalogue's `_timestamped` sibling repo.
 */
import { join } from 'node:path';
import { MoxingError } from '../errors.js';
import { snapshotDir } from './cache.js';
import { isNotFound, resolveUrl } from './download.js';
import { cachedListing, fetchListing } from './listing.js';
import { resolveHubOptions, type HubOptions } from './options.js';
import { parseModelRef, type ModelRef } from './reference.js';
import { ensureFiles, exists, locateModel, missingFiles, pullHint, type ModelLocation } from './resolve.js';
import { DEFAULT_VARIANT, onnxFile, variantsPresent, VARIANTS, type Variant } from './variants.js';

export const WHISPER_CONFIG_FILES = Object.freeze(['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const);
export const WHISPER_OPTIONAL_FILES = Object.freeze(['vocab.json', 'merges.txt', 'added_tokens.json', 'special_tokens_map.json', 'normalizer.json'] as const);

export type WhisperLayout = 'merged' | 'split';

export const WHISPER_STEMS = Object.freeze({
  encoder: 'onnx/encoder_model',
  merged: 'onnx/decoder_model_merged',
  mergedTimestamped: 'onnx/decoder_model_merged_timestamped',
  decoder: 'onnx/decoder_model',
  decoderWithPast: 'onnx/decoder_with_past_model',
} as const);

/** Repo-relative paths of one layout, before it is chosen. */
export interface WhisperFileSet {
  readonly layout: WhisperLayout;
  readonly timestamped: boolean;
  readonly encoder: string;
  /** [merged] or [decoder, decoderWithPast]. */
  readonly decoders: readonly string[];
  /** Every file the model needs: graphs then configs. */
  readonly required: readonly string[];
}

/** Where the graphs sit: `onnx/` as the hub repos ship them, or the folder root as `optimum-cli export onnx` writes them. */
export type WhisperGraphFolder = 'onnx' | '';

function stem(name: string, folder: WhisperGraphFolder): string {
  return folder === 'onnx' ? name : name.replace(/^onnx\//, '');
}

/** The files of `layout` for `variant` (`timestamped` picks `decoder_model_merged_timestamped`). */
export function whisperFiles(variant: Variant = DEFAULT_VARIANT, layout: WhisperLayout = 'merged', timestamped = false, folder: WhisperGraphFolder = 'onnx'): WhisperFileSet {
  if (timestamped && layout === 'split') throw new MoxingError('BAD_ARGUMENT', 'word timestamps need the merged decoder layout, not the split pair');
  const file = (name: string): string => onnxFile(stem(name, folder), variant);
  const encoder = file(WHISPER_STEMS.encoder);
  const decoders =
    layout === 'merged'
      ? [file(timestamped ? WHISPER_STEMS.mergedTimestamped : WHISPER_STEMS.merged)]
      : [file(WHISPER_STEMS.decoder), file(WHISPER_STEMS.decoderWithPast)];
  return Object.freeze({ layout, timestamped, encoder, decoders, required: [encoder, ...decoders, ...WHISPER_CONFIG_FILES] });
}

/**
 * Picks the layout from the files available (a repo listing or a folder's contents): merged when its graph
 * is there, else the split pair, in `onnx/` first, then at the root; undefined when none is complete.
 */
export function pickWhisperLayout(available: ReadonlySet<string>, variant: Variant, timestamped = false): WhisperFileSet | undefined {
  const candidates = (['onnx', ''] as const).flatMap((folder) =>
    timestamped ? [whisperFiles(variant, 'merged', true, folder)] : [whisperFiles(variant, 'merged', false, folder), whisperFiles(variant, 'split', false, folder)],
  );
  return candidates.find((set) => [set.encoder, ...set.decoders].every((f) => available.has(f)));
}

export type WhisperDecoderFiles =
  | { readonly kind: 'merged'; readonly path: string; /** Outputs cross_attentions.{i} for word timing. */ readonly timestamped: boolean }
  | { readonly kind: 'split'; readonly decoder: string; readonly decoderWithPast: string };

export interface ResolvedWhisperModel {
  /** Folder holding the files (a cache snapshot or the local folder). */
  readonly dir: string;
  /** The hub repo and revision the files came from; undefined for a local folder. */
  readonly repo: string | undefined;
  readonly revision: string | undefined;
  readonly variant: Variant;
  /** Absolute paths. */
  readonly encoder: string;
  readonly decoder: WhisperDecoderFiles;
  readonly config: string;
  readonly generationConfig: string;
  readonly preprocessorConfig: string;
  readonly tokenizer: string;
  readonly tokenizerConfig: string;
  /** Repo-relative paths of every required file. */
  readonly files: readonly string[];
}

export interface ResolveWhisperOptions extends Partial<HubOptions> {
  /** @default 'fp32' */
  variant?: Variant;
  /** Use a merged decoder that outputs cross attentions (word timestamps). @default false */
  timestamped?: boolean;
}

function pullArgs(variant: Variant, timestamped: boolean): string {
  return [variant !== DEFAULT_VARIANT ? `--variant ${variant}` : '', timestamped ? '--timestamped' : ''].filter(Boolean).join(' ');
}

function toModel(location: ModelLocation, set: WhisperFileSet, variant: Variant): ResolvedWhisperModel {
  const abs = (p: string): string => join(location.dir, p);
  const decoder: WhisperDecoderFiles =
    set.layout === 'merged'
      ? { kind: 'merged', path: abs(set.decoders[0]), timestamped: set.timestamped }
      : { kind: 'split', decoder: abs(set.decoders[0]), decoderWithPast: abs(set.decoders[1]) };
  return Object.freeze({
    dir: location.dir,
    repo: location.ref.kind === 'hub' ? location.ref.repo : undefined,
    revision: location.revision,
    variant,
    encoder: abs(set.encoder),
    decoder,
    config: abs('config.json'),
    generationConfig: abs('generation_config.json'),
    preprocessorConfig: abs('preprocessor_config.json'),
    tokenizer: abs('tokenizer.json'),
    tokenizerConfig: abs('tokenizer_config.json'),
    files: set.required,
  });
}

/** Which graph files of every variant and layout exist in `dir`. */
async function graphsOnDisk(dir: string): Promise<Set<string>> {
  const candidates = VARIANTS.flatMap((v) => Object.values(WHISPER_STEMS).flatMap((name) => [onnxFile(name, v), onnxFile(stem(name, ''), v)]));
  const present = await Promise.all(candidates.map((p) => exists(join(dir, p))));
  return new Set(candidates.filter((_, i) => present[i]));
}

function noLayoutError(where: string, available: ReadonlySet<string>, variant: Variant, timestamped: boolean): MoxingError {
  const variants = [...new Set([...variantsPresent(WHISPER_STEMS.encoder, available), ...variantsPresent(stem(WHISPER_STEMS.encoder, ''), available)])];
  if (timestamped) {
    return new MoxingError('MODEL_INVALID', `${where} has no ${whisperFiles(variant, 'merged', true).decoders[0]}, which word timestamps need; use a *_timestamped export`);
  }
  const has = variants.length > 0 ? ` It has the variants ${variants.join(', ')}; pick one with --variant.` : '';
  return new MoxingError(
    'MODEL_INVALID',
    `${where} has no complete Whisper export for variant ${variant}: it needs ${onnxFile(WHISPER_STEMS.encoder, variant)} and either ${onnxFile(WHISPER_STEMS.merged, variant)} or ${onnxFile(WHISPER_STEMS.decoder, variant)} + ${onnxFile(WHISPER_STEMS.decoderWithPast, variant)}.${has}`,
  );
}

/**
 * Resolves a Whisper model reference to local files, downloading what is missing (see `resolveModel`).
 * Cached files are used without touching the network.
 */
export async function resolveWhisperModel(ref: string | ModelRef, options: ResolveWhisperOptions = {}): Promise<ResolvedWhisperModel> {
  const variant = options.variant ?? DEFAULT_VARIANT;
  const timestamped = options.timestamped ?? false;
  let parsed = typeof ref === 'string' ? parseModelRef(ref) : ref;
  const hub = resolveHubOptions(options);
  const ensureOptions = { ...hub, pullArgs: pullArgs(variant, timestamped), optionalFiles: WHISPER_OPTIONAL_FILES };

  if (parsed.kind === 'local') {
    const location = locateModel(parsed, hub);
    const onDisk = await graphsOnDisk(location.dir);
    const set = pickWhisperLayout(onDisk, variant, timestamped);
    if (!set) throw noLayoutError(`the folder ${location.dir}`, onDisk, variant, timestamped);
    await ensureFiles(location, { ...ensureOptions, files: set.required });
    return toModel(location, set, variant);
  }

  // Word timestamps from a catalogue model whose repo has no timestamped graph: its `_timestamped` sibling
  // repo ships a merged decoder that outputs cross attentions under the plain name.
  let siblingTimestamped = false;
  if (timestamped && parsed.alias?.timestampedRepo) {
    const own = snapshotDir(hub.cacheDir, parsed.repo, parsed.revision ?? hub.revision);
    const ownListing = (await cachedListing(own)) ?? (hub.offline ? undefined : await fetchListing(parsed.repo, parsed.revision ?? hub.revision, hub, own));
    if (!ownListing?.has(whisperFiles(variant, 'merged', true).decoders[0]) && !(await exists(join(own, whisperFiles(variant, 'merged', true).decoders[0])))) {
      parsed = { ...parsed, repo: parsed.alias.timestampedRepo };
      siblingTimestamped = true;
    }
  }
  const wantTimestampedFile = timestamped && !siblingTimestamped;
  const location = locateModel(parsed, hub);
  const asTimestamped = (set: WhisperFileSet): WhisperFileSet => (siblingTimestamped ? { ...set, timestamped: true } : set);

  // 1. Already cached: no network.
  const onDisk = await graphsOnDisk(location.dir);
  const local = pickWhisperLayout(onDisk, variant, wantTimestampedFile);
  if (local && (await missingFiles(location.dir, local.required)).length === 0) {
    await ensureFiles(location, { ...ensureOptions, files: local.required });
    return toModel(location, asTimestamped(local), variant);
  }

  // 2. Choose the layout from the listing (cached, else fetched); without one, try merged then split.
  let listing = await cachedListing(location.dir);
  // Fetch when none is cached, or when the cached one (perhaps older than the repo) lacks this variant.
  const stale = listing !== undefined && !pickWhisperLayout(new Set(listing.keys()), variant, wantTimestampedFile);
  if ((!listing || stale) && !hub.offline) listing = (await fetchListing(parsed.repo, location.revision ?? hub.revision, hub, location.dir)) ?? listing;
  if (listing) {
    const set = pickWhisperLayout(new Set(listing.keys()), variant, wantTimestampedFile);
    if (!set) throw noLayoutError(`${parsed.repo}@${location.revision}`, new Set(listing.keys()), variant, wantTimestampedFile);
    await ensureFiles(location, { ...ensureOptions, files: set.required });
    return toModel(location, asTimestamped(set), variant);
  }
  const merged = whisperFiles(variant, 'merged', wantTimestampedFile);
  if (hub.offline) {
    // Name the files of the usual layout; ensureFiles reports exactly which are missing.
    await ensureFiles(location, { ...ensureOptions, files: local?.required ?? merged.required });
    return toModel(location, asTimestamped(local ?? merged), variant);
  }
  try {
    await ensureFiles(location, { ...ensureOptions, files: merged.required });
    return toModel(location, asTimestamped(merged), variant);
  } catch (error) {
    // Only the hub's 404 for the merged graph itself means "this repo has the split pair instead".
    const mergedMissing = isNotFound(error, resolveUrl(hub.endpoint, parsed.repo, location.revision ?? hub.revision, merged.decoders[0]));
    if (!mergedMissing || wantTimestampedFile) throw error;
  }
  const split = whisperFiles(variant, 'split');
  await ensureFiles(location, { ...ensureOptions, files: split.required });
  return toModel(location, split, variant);
}

/** `moxing pull` arguments that fetch this Whisper variant, for messages. */
export function whisperPullCommand(ref: string, variant: Variant = DEFAULT_VARIANT, timestamped = false): string {
  return pullHint(ref, pullArgs(variant, timestamped));
}
