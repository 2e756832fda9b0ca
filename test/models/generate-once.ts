/**
 * Generated test models are written once into test/.models/ and shared by every test and process: each is
 * written into a temporary folder beside its place and renamed into it, so no reader ever sees half a model,
 * and concurrent callers in one process share one write.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const pending = new Map<string, Promise<string>>();

/** The folder `root/name`, written by `write(tempFolder)` unless it is there already. */
export function generateOnce(root: string, name: string, write: (temp: string) => void | Promise<void>): Promise<string> {
  const dir = join(root, name);
  let result = pending.get(dir);
  if (!result) {
    result = Promise.resolve().then(async () => {
      if (existsSync(dir)) return dir;
      const temp = tempFolder(root, name);
      try {
        await write(temp);
        moveInto(temp, dir);
      } finally {
        rmSync(temp, { recursive: true, force: true });
      }
      return dir;
    });
    pending.set(dir, result);
    result.catch(() => pending.delete(dir));
  }
  return result;
}

/** generateOnce for a synchronous `write`, for a test file's top level (which must not await: run-tests.mjs). */
export function generateOnceSync(root: string, name: string, write: (temp: string) => void): string {
  const dir = join(root, name);
  if (existsSync(dir)) return dir;
  const temp = tempFolder(root, name);
  try {
    write(temp);
    moveInto(temp, dir);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return dir;
}

function tempFolder(root: string, name: string): string {
  return join(root, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function moveInto(temp: string, dir: string): void {
  try {
    renameSync(temp, dir);
  } catch (error) {
    // Another process finished the same model first: theirs is identical.
    if (!existsSync(dir)) throw error;
  }
}
