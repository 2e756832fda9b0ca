/** A generated-model folder, written once: aside under a temporary name, then renamed into place. */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** `root/name`, filled by `write` (given the temporary folder) unless it exists already. */
export async function generatedDir(root: string, name: string, write: (temp: string) => void | Promise<void>): Promise<string> {
  const dir = join(root, name);
  if (existsSync(dir)) return dir;
  const temp = join(root, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await write(temp);
    try {
      renameSync(temp, dir);
    } catch (error) {
      // another process finished the same folder first: theirs is identical
      if (!existsSync(dir)) throw error;
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return dir;
}
