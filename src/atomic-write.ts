/**
 * Writing output files all or nothing. Every file is written to a temporary file beside its target, then all are
 * renamed into place; a target that cannot be written (a folder, a missing or read-only parent) is found before
 * the first rename, and a failure removes the temporary files and the targets this call already renamed. A
 * reader never sees a partial file, and a set of outputs is never left half-made.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MoxingError } from './errors.js';

export interface OutputFile {
  readonly path: string;
  readonly content: string | Uint8Array;
}

/** Why a file system call failed, in words a user can act on. */
export function outputFailure(path: string, error: unknown): MoxingError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'EISDIR' ? 'it is a folder'
    : code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of its path is a file, not a folder'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EROFS' ? 'the file system is read-only'
    : code === 'ENOSPC' ? 'the disk is full'
    : code === 'ENAMETOOLONG' ? 'the name is too long'
    : (code ?? (error as Error).message);
  return new MoxingError('OUTPUT_FAILED', `cannot write ${path}: ${why}; nothing was written. Choose another output path`, { cause: error });
}

/** Writes every file or none (see the module comment). Parent folders are created. */
export async function writeFilesAtomically(files: readonly OutputFile[]): Promise<void> {
  for (const file of files) {
    const existing = await stat(file.path).catch(() => undefined);
    if (existing?.isDirectory()) throw outputFailure(file.path, Object.assign(new Error('is a folder'), { code: 'EISDIR' }));
  }
  const temps: string[] = [];
  const placed: string[] = [];
  let current = files[0]?.path ?? '';
  try {
    for (const file of files) {
      current = file.path;
      // mkdir's EEXIST here means a parent exists as a file (a folder that exists is no error).
      await mkdir(dirname(file.path), { recursive: true });
      const temp = join(dirname(file.path), `.${basename(file.path)}.${randomBytes(6).toString('hex')}.tmp`);
      temps.push(temp);
      await writeFile(temp, file.content, { flag: 'wx' });
    }
    for (const [i, file] of files.entries()) {
      current = file.path;
      await rename(temps[i], file.path);
      temps[i] = '';
      placed.push(file.path);
    }
  } catch (error) {
    await Promise.all([...temps.filter((t) => t !== ''), ...placed].map((p) => rm(p, { force: true })));
    throw outputFailure(current, error);
  }
}
