/**
 * The on-disk cache: `<cacheDir>/models/<owner>--<name>/<revision>/<repo path>` (a '/' in the revision as
 * %2F), partial downloads beside their target as `<file>.incomplete`, and moxing's own notes about a
 * snapshot in its `.moxing/` folder.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile, mkdir, rename } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { MoxingError } from '../errors.js';
import { LOCK_SUFFIX } from './lock.js';
import { isRepoId, isRevision } from './reference.js';

export const INCOMPLETE_SUFFIX = '.incomplete';
const META_DIR = '.moxing';

/**
 * `owner/name` → `owner--name`, as huggingface_hub names its cache folders. Repo ids cannot hold "--", so
 * the folder name splits back at its only "--" (see `repoFromFolder`).
 */
function repoFolderName(repo: string): string {
  if (!isRepoId(repo)) {
    throw new MoxingError('MODEL_UNKNOWN', `"${repo}" is not a valid hub repo id owner/name (letters, digits, '-', '_', '.', without "--" or ".."); check the model reference`);
  }
  return repo.replace('/', '--');
}

/** The repo id a cache folder holds, or undefined for a folder that is no `owner--name` of a valid id. */
export function repoFromFolder(folder: string): string | undefined {
  const parts = folder.split('--');
  if (parts.length !== 2) return undefined;
  const repo = `${parts[0]}/${parts[1]}`;
  return isRepoId(repo) ? repo : undefined;
}

/**
 * Revisions may hold '/' (refs/pr/2); keep them one folder deep by percent-encoding it (`refs%2Fpr%2F2`).
 * Unlike a '/'→'--' swap this reads back exactly: a branch may itself be called `a--b`, and '%' is no
 * revision character.
 */
function revisionFolderName(revision: string): string {
  if (!isRevision(revision)) {
    throw new MoxingError('BAD_ARGUMENT', `the revision "${revision}" is not a branch, tag or commit (letters, digits, '_', '-', '.', '/', without '..'); check --revision or the @revision`);
  }
  return encodeURIComponent(revision);
}

/** The revision a snapshot folder holds, or undefined for a folder that does not encode one. */
export function revisionFromFolder(folder: string): string | undefined {
  let revision: string;
  try {
    revision = decodeURIComponent(folder);
  } catch {
    return undefined;
  }
  return isRevision(revision) && encodeURIComponent(revision) === folder ? revision : undefined;
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
    const repo = repoFromFolder(repoFolder);
    if (repo === undefined) continue; // not a model folder of ours
    const revisions = (await readdir(join(root, repoFolder), { withFileTypes: true })).filter((e) => e.isDirectory());
    for (const rev of revisions.map((e) => e.name).sort()) {
      const revision = revisionFromFolder(rev);
      if (revision === undefined) continue;
      const dir = join(root, repoFolder, rev);
      const all = await walk(dir);
      const files = all.filter((f) => !f.path.endsWith(INCOMPLETE_SUFFIX) && !f.path.endsWith(LOCK_SUFFIX));
      const incompleteBytes = all.filter((f) => f.path.endsWith(INCOMPLETE_SUFFIX)).reduce((s, f) => s + f.bytes, 0);
      if (all.length === 0) continue;
      snapshots.push({
        repo,
        revision,
        dir,
        files,
        bytes: files.reduce((s, f) => s + f.bytes, 0),
        incompleteBytes,
      });
    }
  }
  return snapshots;
}
