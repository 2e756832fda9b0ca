/**
 * Sessions of a model with load-time graph edits: the edit is applied on a streamed copy of the file
 * (stream-rewrite.ts) beside the model, ORT loads the copy, and the copy is removed once loaded. Used by the
 * chat decoder's rewrites and the Whisper encoder's attention fusion.
 */
import { existsSync } from 'node:fs';
import { link, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../../errors.js';
import { loadSession, loadSessionFromTemporaryFile, type RuntimeOptions } from '../session.js';
import { rewriteGraphNodes, type GraphView } from './stream-rewrite.js';
import type { NodeProto } from './proto.js';

/**
 * A temporary folder to write a changed copy of the model at `path` into, with hard links to the model's sibling
 * files (external data), which ORT reads only from the model's own folder (it refuses symbolic links that lead
 * out of it). Undefined when the files cannot be linked there (another file system): the caller loads the
 * original.
 */
export async function siblingFolder(path: string): Promise<{ copy: string; cleanup: () => Promise<void> } | undefined> {
  const folder = await temporaryFolderNear(path);
  const cleanup = () => rm(folder, { recursive: true, force: true });
  try {
    const siblings = (await readdir(dirname(path), { withFileTypes: true })).filter((e) => e.isFile() && e.name !== basename(path));
    await Promise.all(siblings.map((e) => link(resolvePath(dirname(path), e.name), join(folder, e.name))));
  } catch (cause) {
    await cleanup();
    if (['EXDEV', 'EPERM', 'EACCES', 'EMLINK'].includes((cause as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw cause;
  }
  return { copy: join(folder, basename(path)), cleanup };
}

/**
 * A new folder beside the model when its folder is writable (the same file system, so the model's other files
 * can be hard-linked: a TMPDIR on tmpfs or another disk cannot link them, and the load would lose its rewrites),
 * else in TMPDIR (a read-only model folder).
 */
async function temporaryFolderNear(path: string): Promise<string> {
  try {
    return await mkdtemp(join(dirname(path), '.moxing-load-'));
  } catch (cause) {
    if (!['EACCES', 'EROFS', 'EPERM'].includes((cause as NodeJS.ErrnoException).code ?? '')) throw cause;
    return mkdtemp(join(tmpdir(), 'moxing-model-'));
  }
}

/**
 * A session of the model at `path` with `edit` applied to its main graph on a streamed copy beside it (or in
 * TMPDIR), removed once loaded; the file itself when `edit` changes nothing or the copy cannot be made. `key`
 * names the edit: one session per file, key and runtime options.
 */
export function loadRewrittenModel(path: string, key: string, edit: (graph: GraphView) => NodeProto[] | undefined, runtime?: RuntimeOptions): Promise<InferenceSession> {
  return loadSessionFromTemporaryFile(
    `${resolvePath(path)}#${key}`,
    async () => {
      const folder = await siblingFolder(path);
      if (!folder) return { path, cleanup: async () => undefined };
      const { copy, cleanup } = folder;
      try {
        // The weights go to a mapped side file (ORT maps what is aligned): about 300 MB less resident memory on a
        // 0.5B q4 model, whose prepacked matmuls would otherwise keep the 4-bit originals in memory too.
        const wrote = rewriteGraphNodes(path, copy, edit, { externalData: { file: `${copy}.moxing_data` } });
        return { path: wrote ? copy : path, cleanup };
      } catch (cause) {
        await cleanup();
        // No room for the copy: the graph loads as it is.
        if (['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES'].includes((cause as NodeJS.ErrnoException).code ?? '')) return { path, cleanup: async () => undefined };
        throw cause;
      }
    },
    runtime,
  );
}

/**
 * A session of the model at `path` with a speed-up `edit` (loadRewrittenModel) when `rewrite` is on, else the file
 * as exported; also the file as exported when ORT refuses the edited copy (MODEL_INVALID: a provider without an
 * operator the edit uses). A missing file fails as loadSession fails, saying what to do.
 */
export async function loadWithSpeedUp(path: string, rewrite: boolean, key: string, edit: (graph: GraphView) => NodeProto[] | undefined, runtime?: RuntimeOptions): Promise<InferenceSession> {
  if (!rewrite || !existsSync(path)) return loadSession(path, runtime);
  try {
    return await loadRewrittenModel(path, key, edit, runtime);
  } catch (cause) {
    if (!(cause instanceof MoxingError) || cause.code !== 'MODEL_INVALID') throw cause;
    return loadSession(path, runtime);
  }
}
