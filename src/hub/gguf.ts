/**
 * GGUF files from hub repos: a reference `owner/name[@rev]` with a file selector, either given apart (`file`)
 * or after a colon as llama.cpp's `-hf` takes it (`owner/name:Q4_K_M`). The selector is an exact file name
 * (or repo path), or a quantization name matched as a whole part of the file name (`Q4_0` picks
 * `model-Q4_0.gguf`, not `model-Q4_0_4_4.gguf`). The file comes through the hub client: HF_ENDPOINT, the token,
 * the cache and the offline switch apply as to every model.
 */
import { readdir } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { MoxingError, quoteInput } from '../errors.js';
import { cachedListing, fetchListing } from './listing.js';
import { resolveHubOptions, type HubOptions } from './options.js';
import type { ModelRef } from './reference.js';
import { locateModel, resolveModel } from './resolve.js';

/** `owner/name[@rev]:SELECTOR` split into the reference and the selector; other references are left whole. */
export function splitGgufSelector(ref: string): { ref: string; selector: string | undefined } {
  const colon = ref.lastIndexOf(':');
  // Not a drive letter (C:\…), a URL, or a path; the selector is one file name's worth of characters.
  if (colon <= 1 || ref.includes('\\') || /^[./~]/.test(ref)) return { ref, selector: undefined };
  const selector = ref.slice(colon + 1);
  if (!/^[\w.-]{1,200}$/.test(selector)) return { ref, selector: undefined };
  return { ref: ref.slice(0, colon), selector };
}

/** Whether a hub reference goes to llama.cpp when no engine is asked for: a selector, or a repo named *GGUF*. */
export function looksLikeGgufRepo(ref: ModelRef, selector: string | undefined): boolean {
  return ref.kind === 'hub' && (selector !== undefined || /gguf/i.test(ref.repo));
}

const SPLIT = /-\d{5}-of-\d{5}\.gguf$/i;

/** The GGUF file among `paths` that `selector` names; with no selector, the only one. */
export function pickGguf(paths: readonly string[], selector: string | undefined, where: string): string {
  const ggufs = paths.filter((p) => p.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 0) throw new MoxingError('MODEL_INVALID', `${where} has no .gguf file`);
  const shown = ggufs.slice(0, 12).map((p) => posix.basename(p)).join(', ');
  let matches: string[];
  if (selector === undefined) matches = ggufs;
  else {
    const exact = ggufs.filter((p) => p === selector || posix.basename(p) === selector);
    const quant = new RegExp(`(^|[-._])${selector.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\.gguf$|[-.]|$)`, 'i');
    matches = exact.length > 0 ? exact : ggufs.filter((p) => quant.test(posix.basename(p)));
  }
  if (matches.length === 0) throw new MoxingError('MODEL_INVALID', `${where} has no GGUF file matching ${quoteInput(selector ?? '')}; it has ${shown}`);
  if (matches.every((p) => SPLIT.test(p))) throw new MoxingError('BAD_ARGUMENT', `${posix.basename(matches[0])} is one part of a split GGUF, which this engine does not load; pick a single-file quantization`);
  if (matches.length > 1) {
    const how = selector === undefined ? 'pick one with a selector (owner/name:Q4_K_M or --file NAME)' : 'give the exact file name';
    throw new MoxingError('BAD_ARGUMENT', `${where} has ${matches.length} GGUF files${selector === undefined ? '' : ` matching ${quoteInput(selector)}`} (${matches.slice(0, 12).map((p) => posix.basename(p)).join(', ')}); ${how}`);
  }
  return matches[0];
}

/**
 * The local path of the GGUF file `selector` names in the hub repo `ref`, downloaded into the cache unless it is
 * there. The repo's listing is read once and cached with the snapshot; offline, the cached listing (or else the
 * snapshot's own files) is all there is, and a file not downloaded yet is MODEL_OFFLINE.
 */
export async function resolveGguf(ref: ModelRef, selector: string | undefined, options: Partial<HubOptions> = {}): Promise<string> {
  if (ref.kind !== 'hub') throw new MoxingError('BAD_ARGUMENT', `${ref.ref} is a folder, not a hub repo`);
  const hub = resolveHubOptions(options);
  const location = locateModel(ref, hub);
  const where = `${ref.repo}@${location.revision}`;
  const listing = (await cachedListing(location.dir)) ?? (hub.offline ? undefined : await fetchListing(ref.repo, location.revision ?? hub.revision, hub, location.dir));
  // Offline without a listing, the snapshot's own files are what there is.
  const paths = listing ? [...listing.keys()] : hub.offline ? await filesUnder(location.dir) : undefined;
  let file: string;
  if (paths) file = pickGguf(paths, selector, hub.offline && !listing ? `the cached ${where} (offline)` : where);
  else if (selector?.toLowerCase().endsWith('.gguf')) file = selector; // no tree API (a plain mirror): only an exact name can be fetched
  else throw new MoxingError('BAD_ARGUMENT', `${where}: the hub gives no file listing, so a quantization name cannot be matched; give the exact .gguf file name`);
  const dir = await resolveModel(ref, { ...hub, files: [file], pullArgs: selector ? `--file ${selector}` : undefined });
  return join(dir, file);
}

/** Repo-relative paths of the files in a cache snapshot (none when it is not there). */
async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'));
  } catch {
    return [];
  }
}
