/**
 * A repo's file list at a revision, from the hub's tree API, with sizes and (for LFS files) sha256.
 * Kept in the snapshot's `.moxing/listing.json` so that later runs, and offline runs, know the repo's layout.
 */
import { readMeta, writeMeta } from './cache.js';
import { httpFailure } from './download.js';
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
 * Fetches the listing, or returns undefined when the endpoint has no tree API or the request fails for a
 * reason the file downloads will report better (a mirror without the API still serves resolve URLs).
 * A 401/403 is reported at once, since every download would fail the same way.
 */
export async function fetchListing(repo: string, revision: string, hub: HubOptions, snapshot: string): Promise<RepoListing | undefined> {
  const files: RepoFile[] = [];
  let next: string | undefined = `${hub.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true&expand=false`;
  for (let page = 0; next && page < 100; page++) {
    let response: Response;
    try {
      response = await fetch(next, {
        headers: { 'user-agent': 'moxing', ...(hub.token ? { authorization: `Bearer ${hub.token}` } : {}) },
        signal: AbortSignal.timeout(hub.idleTimeoutMs),
      });
    } catch {
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
