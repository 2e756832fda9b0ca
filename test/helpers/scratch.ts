/**
 * Scratch folders for tests, removed when the test process exits: the runner imports many files into one
 * process, and a folder left in the system's temporary directory by every run adds up (hundreds per day here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new empty folder under the system's temporary directory, named `${prefix}XXXXXX`. */
export function scratchDir(prefix: string): string {
  if (made.length === 0) process.once('exit', () => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
