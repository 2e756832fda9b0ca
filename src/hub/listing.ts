/**
 * A repo's file list at a revision, from the hub's tree API, with sizes and (for LFS files) sha256.
 * Kept in the snapshot's `.moxing/listing.json` so that later runs, and offline runs, know the repo's layout.
 */
import { MoxingError } from '../errors.js';
import { readMeta, writeMeta } from './cache.js';
import { httpFailure } from './download.js';
import { hubFetch } from './http.js';
import type { HubOptions } from './options.js';

export interface RepoFile {
  readonly path: string;
  readonly bytes: number;
  /** Present for LFS files. */
  readonly sha256?: string;
}

export type RepoListing = ReadonlyMap<string, RepoFile>;

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  lfs?: { oid?: string; sha256?: string; size?: number };
}

const LISTING_META = 'listing.json';

export async function cachedListing(snapshot: string): Promise<RepoListing | undefined> {
  const files = await readMeta<RepoFile[]>(snapshot, LISTING_META);
  return Array.isArray(files) ? new Map(files.map((f) => [f.path, f])) : undefined;
}

/**
 * Pages of a listing followed before giving up. The hub pages its tree at 1000 entries or more, so this is
 * 100k+ files, far beyond any model repo: a listing that long comes from a misbehaving server.
 */
export const MAX_LISTING_PAGES = 1000;

/**
 * Fetches the listing, or returns undefined when the endpoint has no tree API or the request fails for a
 * reason the file downloads will report better (a mirror without the API still serves resolve URLs).
 * A 401/403 is reported at once, since every download would fail the same way. Every page is followed
 * (`Link: <…>; rel="next"`); only a complete listing is cached, and a listing that does not end within
 * `maxPages` pages (or links back to a page already read) is DOWNLOAD_FAILED, never a partial one saved as
 * whole. The token travels only to the endpoint's origin, whatever host a Link or redirect names.
 */
export async function fetchListing(repo: string, revision: string, hub: HubOptions, snapshot: string, maxPages = MAX_LISTING_PAGES): Promise<RepoListing | undefined> {
  const files: RepoFile[] = [];
  const first = `${hub.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true&expand=false`;
  const seen = new Set<string>();
  let next: string | undefined = new URL(first).href;
  while (next) {
    if (seen.has(next)) {
      throw new MoxingError('DOWNLOAD_FAILED', `the file listing of ${repo}@${revision} at ${first} links back to a page already read (${next}); the endpoint is misbehaving, check HF_ENDPOINT`);
    }
    if (seen.size >= maxPages) {
      throw new MoxingError('DOWNLOAD_FAILED', `the file listing of ${repo}@${revision} at ${first} did not end within ${maxPages} pages; nothing was cached. Check HF_ENDPOINT, or give a local folder with the model's files`);
    }
    seen.add(next);
    let response: Response;
    try {
      response = await hubFetch(next, { endpoint: hub.endpoint, token: hub.token, signal: AbortSignal.timeout(hub.idleTimeoutMs) });
    } catch (error) {
      if (error instanceof MoxingError) throw error;
      return undefined;
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw httpFailure(next, response.status, response.statusText, hub.token, response.headers.get('x-error-code'));
    }
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    let entries: unknown;
    try {
      entries = await response.json();
    } catch {
      return undefined;
    }
    if (!Array.isArray(entries)) return undefined;
    for (const e of entries as TreeEntry[]) {
      if (e.type !== 'file' || typeof e.path !== 'string') continue;
      const sha = e.lfs?.oid ?? e.lfs?.sha256;
      files.push({ path: e.path, bytes: e.lfs?.size ?? e.size ?? 0, ...(sha && /^[0-9a-f]{64}$/i.test(sha) ? { sha256: sha.toLowerCase() } : {}) });
    }
    next = nextLink(response.headers.get('link'), next);
  }
  await writeMeta(snapshot, LISTING_META, files);
  return new Map(files.map((f) => [f.path, f]));
}

function nextLink(header: string | null, base: string): string | undefined {
  const m = header?.match(/<([^>]+)>\s*;\s*rel="?next"?/);
  return m ? new URL(m[1], base).href : undefined;
}
