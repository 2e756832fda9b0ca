/**
 * One writer per cached file: within a process, concurrent fetches of the same file share one promise;
 * across processes (two `moxing` commands pulling the same model), a `<file>.lock` holding the owner's pid
 * makes the second wait. A lock whose process is gone is taken over, so a killed run never blocks the cache.
 */
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_SUFFIX = '.lock';
const POLL_MS = 200;
/** An empty lock file older than this lost its writer before it named itself. */
const EMPTY_LOCK_STALE_MS = 10_000;
const inFlight = new Map<string, Promise<unknown>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(path: string): Promise<() => Promise<void>> {
  const lock = path + LOCK_SUFFIX;
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    try {
      const handle = await open(lock, 'wx');
      try {
        await handle.writeFile(String(process.pid));
      } catch (error) {
        // A lock without an owner would make every later run wait for it: remove it.
        await rm(lock, { force: true });
        throw error;
      } finally {
        await handle.close();
      }
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    // An empty lock may be one being written right now; it is stale only once it has stayed empty a while
    // (its writer died between creating and filling it). A named owner is stale when that process is gone.
    const orphan = !(owner > 0) && Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now()) > EMPTY_LOCK_STALE_MS;
    if (orphan || (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && !alive(owner))) {
      await rm(lock, { force: true });
      continue;
    }
    await sleep(POLL_MS);
  }
}

/** Runs `work` as the only writer of `path`; callers that arrive while it runs get the same result. */
export function exclusive<T>(path: string, work: () => Promise<T>): Promise<T> {
  const running = inFlight.get(path) as Promise<T> | undefined;
  if (running) return running;
  const task = (async () => {
    const release = await acquire(path);
    try {
      return await work();
    } finally {
      await release();
    }
  })().finally(() => inFlight.delete(path));
  inFlight.set(path, task);
  return task;
}
