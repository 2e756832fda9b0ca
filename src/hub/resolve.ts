/**
 * Model reference → local folder holding the files a caller needs. Local folders are checked in place;
 * hub models come from the cache, fetched (with their external-data companions) when missing, unless
 * offline mode is on, in which case the error names the missing files and the command that fetches them.
 */
import { access } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { MoxingError } from '../errors.js';
import { readMeta, snapshotDir, writeMeta } from './cache.js';
import { downloadFile, isNotFound } from './download.js';
import { externalDataFiles } from './external.js';
import { cachedListing, fetchListing, type RepoListing } from './listing.js';
import { resolveHubOptions, type HubOptions } from './options.js';
import { parseModelRef, type ModelRef } from './reference.js';
import { VARIANT_SUFFIXES, variantsPresent } from './variants.js';

export interface ResolveModelOptions extends Partial<HubOptions> {
  /** Repo-relative paths that must exist. */
  files: readonly string[];
  /** Paths fetched when the repo has them; their absence is not an error. */
  optionalFiles?: readonly string[];
  /** Appended to the `moxing pull` hint in offline errors (e.g. `--variant q8`). */
  pullArgs?: string;
}

/** Where a resolved hub model lives, or the folder itself for a local reference. */
export interface ModelLocation {
  readonly ref: ModelRef;
  readonly dir: string;
  /** The revision used (hub models only). */
  readonly revision: string | undefined;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export function locateModel(ref: string | ModelRef, options: Partial<HubOptions> = {}): ModelLocation {
  const parsed = typeof ref === 'string' ? parseModelRef(ref) : ref;
  if (parsed.kind === 'local') return { ref: parsed, dir: parsed.dir, revision: undefined };
  const hub = resolveHubOptions(options);
  const revision = parsed.revision ?? hub.revision;
  return { ref: parsed, dir: snapshotDir(hub.cacheDir, parsed.repo, revision), revision };
}

/** The files in `paths` that are not in `dir`. */
export async function missingFiles(dir: string, paths: readonly string[]): Promise<string[]> {
  const flags = await Promise.all(paths.map((p) => exists(join(dir, p))));
  return paths.filter((_, i) => !flags[i]);
}

const EXTERNAL_META = 'external.json';

/** External-data companions of the `.onnx` files among `paths` that are present in `dir`; remembered per snapshot. */
async function companionsOf(dir: string, paths: readonly string[], listing: RepoListing | undefined): Promise<string[]> {
  const known = (await readMeta<Record<string, string[]>>(dir, EXTERNAL_META)) ?? {};
  let changed = false;
  const out: string[] = [];
  for (const p of paths.filter((f) => f.endsWith('.onnx'))) {
    const folder = posix.dirname(p);
    const base = posix.basename(p);
    if (listing && ![...listing.keys()].some((f) => posix.dirname(f) === folder && f !== p && posix.basename(f).startsWith(base))) {
      continue; // the repo holds no file that could be this graph's external data
    }
    if (!(await exists(join(dir, p)))) continue;
    if (!known[p]) {
      known[p] = await externalDataFiles(join(dir, p));
      changed = true;
    }
    out.push(...known[p].map((name) => (folder === '.' ? name : `${folder}/${name}`)));
  }
  if (changed) await writeMeta(dir, EXTERNAL_META, known);
  return [...new Set(out)];
}

/** Companions of `paths` already recorded for a cache snapshot (no graph is read). */
export async function recordedCompanions(dir: string, paths: readonly string[]): Promise<string[]> {
  const known = (await readMeta<Record<string, string[]>>(dir, EXTERNAL_META)) ?? {};
  return paths.flatMap((p) => (known[p] ?? []).map((name) => (posix.dirname(p) === '.' ? name : `${posix.dirname(p)}/${name}`)));
}

export function pullHint(ref: string, pullArgs?: string): string {
  return `moxing pull ${ref}${pullArgs ? ` ${pullArgs}` : ''}`;
}

function offlineError(location: ModelLocation, missing: readonly string[], pullArgs?: string): MoxingError {
  const ref = location.ref.ref;
  return new MoxingError(
    'MODEL_OFFLINE',
    `offline mode is on (MOXING_OFFLINE/HF_HUB_OFFLINE) and ${ref} is missing ${missing.join(', ')} in ${location.dir}; ` +
      `run \`${pullHint(ref, pullArgs)}\` with network access first`,
  );
}

/**
 * Makes sure `files` (and `optionalFiles` the repo has) are on disk and returns the folder holding them.
 * Nothing touches the network when the required files are already cached.
 */
export async function resolveModel(ref: string | ModelRef, options: ResolveModelOptions): Promise<string> {
  return (await ensureFiles(locateModel(ref, options), options)).dir;
}

export async function ensureFiles(location: ModelLocation, options: ResolveModelOptions): Promise<ModelLocation> {
  const { files, optionalFiles = [] } = options;
  const { ref, dir } = location;
  if (ref.kind === 'local') {
    const missing = await missingFiles(dir, files);
    if (missing.length > 0) {
      throw new MoxingError('MODEL_INVALID', `the model folder ${dir} lacks ${missing.join(', ')}; add them or give a hub model instead`);
    }
    return location;
  }

  const hub = resolveHubOptions(options);
  const revision = location.revision ?? hub.revision;
  let listing = await cachedListing(dir);
  let missing = await missingFiles(dir, files);
  if (missing.length === 0) missing = await missingFiles(dir, await companionsOf(dir, files, listing));
  const optionalWanted = listing ? optionalFiles.filter((f) => listing?.has(f)) : [];
  const optionalMissing = await missingFiles(dir, optionalWanted);
  if (missing.length === 0 && optionalMissing.length === 0) return location;
  if (hub.offline) {
    if (missing.length === 0) return location; // optional files may be absent
    throw offlineError(location, missing, options.pullArgs);
  }

  // A cached listing may predate files added to the repo since: ask again before calling them absent.
  if (!listing || files.some((f) => !listing?.has(f))) listing = (await fetchListing(ref.repo, revision, hub, dir)) ?? listing;
  if (listing) {
    const absent = files.filter((f) => !listing?.has(f));
    if (absent.length > 0) {
      throw new MoxingError('MODEL_INVALID', `${ref.repo}@${revision} has no ${absent.join(', ')}; check the model reference and --variant${variantHint(absent, listing)}`);
    }
  }
  const toFetch = [...(await missingFiles(dir, files)), ...(await missingFiles(dir, listing ? optionalFiles.filter((f) => listing?.has(f)) : optionalFiles))];
  await fetchAll(ref.repo, revision, dir, toFetch, new Set(files), listing, hub);
  const companions = await missingFiles(dir, await companionsOf(dir, files, listing));
  await fetchAll(ref.repo, revision, dir, companions, new Set(companions), listing, hub);
  return location;
}

/** " (it has the variants fp32, q8)" for the first absent graph whose other variants the repo holds. */
function variantHint(absent: readonly string[], listing: RepoListing): string {
  const paths = new Set(listing.keys());
  for (const file of absent.filter((f) => f.endsWith('.onnx'))) {
    const stem = file.replace(/\.onnx$/, '').replace(new RegExp(`(${Object.values(VARIANT_SUFFIXES).filter(Boolean).join('|')})$`), '');
    const present = variantsPresent(stem, paths);
    if (present.length > 0) return ` (it has the variants ${present.join(', ')} of ${stem}.onnx)`;
  }
  return '';
}

async function fetchAll(repo: string, revision: string, dir: string, paths: readonly string[], required: ReadonlySet<string>, listing: RepoListing | undefined, hub: HubOptions): Promise<void> {
  for (const [i, path] of paths.entries()) {
    const meta = listing?.get(path);
    try {
      await downloadFile(repo, path, join(dir, path), {
        ...hub,
        revision,
        fileIndex: i,
        fileCount: paths.length,
        ...(meta?.bytes ? { expectedBytes: meta.bytes } : {}),
        ...(meta?.sha256 ? { expectedSha256: meta.sha256 } : {}),
      });
    } catch (error) {
      // Without a listing, optional files are tried and a 404 just means the repo has none.
      if (!required.has(path) && isNotFound(error)) continue;
      throw error;
    }
  }
}
