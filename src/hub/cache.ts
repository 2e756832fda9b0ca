/**
 * The on-disk cache: `<cacheDir>/models/<owner>--<name>/<revision>/<repo path>`, partial downloads beside
 * their target as `<file>.incomplete`, and moxing's own notes about a snapshot in its `.moxing/` folder.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile, mkdir, rename } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { LOCK_SUFFIX } from './lock.js';

export const INCOMPLETE_SUFFIX = '.incomplete';
const META_DIR = '.moxing';

function repoFolderName(repo: string): string {
  return repo.replace('/', '--');
}

/** Revisions may hold '/' (refs/pr/2); keep them one folder deep. */
function revisionFolderName(revision: string): string {
  return revision.replace(/\//g, '--');
}

export function snapshotDir(cacheDir: string, repo: string, revision: string): string {
  return join(cacheDir, 'models', repoFolderName(repo), revisionFolderName(revision));
}

function metaPath(snapshot: string, name: string): string {
  return join(snapshot, META_DIR, name);
}

export async function readMeta<T>(snapshot: string, name: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(metaPath(snapshot, name), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Written through a temp file and a rename, so readers never see half a file. */
export async function writeMeta(snapshot: string, name: string, value: unknown): Promise<void> {
  const path = metaPath(snapshot, name);
  await mkdir(dirname(path), { recursive: true });
  // Unique per call: two resolutions of one model in the same process may write the same note at once.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 1));
  await rename(tmp, path);
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

export interface CachedSnapshot {
  readonly repo: string;
  readonly revision: string;
  readonly dir: string;
  /** Complete files, repo-relative, with their sizes in bytes. */
  readonly files: readonly { readonly path: string; readonly bytes: number }[];
  readonly bytes: number;
  /** Bytes held by partial downloads that a later pull resumes. */
  readonly incompleteBytes: number;
}

async function walk(dir: string, prefix = ''): Promise<{ path: string; bytes: number }[]> {
  const out: { path: string; bytes: number }[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === META_DIR) continue;
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(join(dir, e.name), rel)));
    else if (e.isFile()) {
      // A concurrent download may rename or remove the file between readdir and stat.
      const info = await stat(join(dir, e.name)).catch(() => undefined);
      if (info) out.push({ path: rel, bytes: info.size });
    }
  }
  return out;
}

/** Every snapshot in the cache, sorted by repo then revision. */
export async function listCachedSnapshots(cacheDir: string): Promise<CachedSnapshot[]> {
  const root = join(cacheDir, 'models');
  const snapshots: CachedSnapshot[] = [];
  let repos: string[];
  try {
    repos = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return snapshots;
  }
  for (const repoFolder of repos.sort()) {
    const repo = repoFolder.replace('--', '/');
    const revisions = (await readdir(join(root, repoFolder), { withFileTypes: true })).filter((e) => e.isDirectory());
    for (const rev of revisions.map((e) => e.name).sort()) {
      const dir = join(root, repoFolder, rev);
      const all = await walk(dir);
      const files = all.filter((f) => !f.path.endsWith(INCOMPLETE_SUFFIX) && !f.path.endsWith(LOCK_SUFFIX));
      const incompleteBytes = all.filter((f) => f.path.endsWith(INCOMPLETE_SUFFIX)).reduce((s, f) => s + f.bytes, 0);
      if (all.length === 0) continue;
      snapshots.push({
        repo,
        revision: rev.replace(/--/g, '/'),
        dir,
        files,
        bytes: files.reduce((s, f) => s + f.bytes, 0),
        incompleteBytes,
      });
    }
  }
  return snapshots;
}
