/**
 * One writer per file, shared by the hub cache (one download per cached file) and the embedded vector index
 * (one writer per index folder). Within a process, concurrent users of the same file share one promise;
 * across processes (two `moxing` commands pulling the same model), a `<file>.lock` naming its owner
 * (`<pid> <random token>`) makes the second wait. A lock whose process is gone is taken over, so a killed
 * run never blocks the cache.
 *
 * Taking over is the delicate part: two waiters may both see the same dead owner, and a plain "remove, then
 * create" lets the slower one remove the lock the faster one has just created. So a stale lock is removed
 * only by the one waiter that creates its break marker `<file>.lock.break-<digest of the stale owner>.lock`
 * (exclusive create), and only if the lock still names that owner once the marker is held. While the marker
 * exists no one else can remove that lock, and a live owner's lock never matches a dead owner's digest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_SUFFIX = '.lock';
const POLL_MS = 200;
/** An empty lock file older than this lost its writer before it named itself. */
const EMPTY_LOCK_STALE_MS = 10_000;
/** A break marker whose breaker died mid-break is itself broken, this many levels deep at most. */
const MAX_BREAK_DEPTH = 3;
const inFlight = new Map<string, Promise<unknown>>();
/** The owner strings of the locks this process holds or is creating right now. */
const held = new Set<string>();

/** Whether process `pid` runs on this machine (EPERM: it does, as another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a lock file says: its content (the owner) and when it was last written; undefined when it is gone. */
interface LockState {
  readonly owner: string;
  readonly mtimeMs: number;
}

async function readLock(path: string): Promise<LockState | undefined> {
  // Content and time through one handle, so both describe the same file even if the path is replaced meanwhile.
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const info = await handle.stat();
    return { owner: await handle.readFile('utf8'), mtimeMs: info.mtimeMs };
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * A named owner is stale when its process is gone; one naming our own pid, when it is none of the locks we
 * hold (a dead process's pid now reused by us). An empty lock may be one being written right now; it is
 * stale only once it has stayed empty a while.
 */
function isStale(state: LockState): boolean {
  const owner = state.owner.trim();
  const pid = Number(owner.split(/\s+/)[0]);
  if (!(Number.isSafeInteger(pid) && pid > 0)) return Date.now() - state.mtimeMs > EMPTY_LOCK_STALE_MS;
  return pid === process.pid ? !held.has(owner) : !alive(pid);
}

function newOwner(): string {
  return `${process.pid} ${randomBytes(8).toString('hex')}`;
}

/**
 * Creates `path` exclusively with `owner` as its content; false when it already exists. While it returns
 * true the owner counts as held (see isStale) until `disown`.
 */
async function create(path: string, owner: string): Promise<boolean> {
  held.add(owner);
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    held.delete(owner);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(owner);
  } catch (error) {
    // A lock without an owner would make every later run wait for it: remove it.
    await handle.close();
    await rm(path, { force: true });
    held.delete(owner);
    throw error;
  }
  await handle.close();
  return true;
}

/** Removes `path` if it is still `owner`'s: never a lock that a waiter re-created after wrongly judging ours stale. */
async function disown(path: string, owner: string): Promise<void> {
  try {
    if ((await readLock(path))?.owner === owner) await rm(path, { force: true });
  } finally {
    held.delete(owner);
  }
}

/** Removes the lock at `path` if it still holds `stale` (and is still stale), as the only breaker of that owner. */
async function breakLock(path: string, stale: LockState, depth = 0): Promise<void> {
  const digest = createHash('sha256').update(stale.owner).update(String(stale.mtimeMs)).digest('hex').slice(0, 16);
  const marker = `${path}.break-${digest}${LOCK_SUFFIX}`;
  const owner = newOwner();
  if (!(await create(marker, owner))) {
    // Another waiter is breaking it; if that waiter died mid-break, its marker would block everyone.
    const breaker = await readLock(marker);
    if (breaker && depth < MAX_BREAK_DEPTH && isStale(breaker)) await breakLock(marker, breaker, depth + 1);
    return;
  }
  try {
    const now = await readLock(path);
    if (now && now.owner === stale.owner && now.mtimeMs === stale.mtimeMs && isStale(now)) await rm(path, { force: true });
  } finally {
    await disown(marker, owner);
  }
}

/**
 * Waits until this process is the only writer of `path` (its `<path>.lock` names us) and returns the
 * function that releases it. Prefer `exclusive`, which also shares one run among callers in this process.
 */
export async function acquireLock(path: string): Promise<() => Promise<void>> {
  return (await tryAcquireLock(path, Number.POSITIVE_INFINITY)) as () => Promise<void>;
}

/**
 * Like acquireLock, but gives up after `timeoutMs` of waiting for a live owner and returns null (a dead
 * owner's lock is still taken over). The caller says what to do about the other writer.
 */
export async function tryAcquireLock(path: string, timeoutMs: number): Promise<(() => Promise<void>) | null> {
  const lock = path + LOCK_SUFFIX;
  const owner = newOwner();
  const deadline = Date.now() + timeoutMs;
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    if (await create(lock, owner)) return () => disown(lock, owner);
    const state = await readLock(lock);
    if (state === undefined) continue; // released between our attempt and the read
    if (isStale(state)) {
      await breakLock(lock, state);
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await sleep(Math.min(POLL_MS, left));
  }
}

/** The pid named in `<path>.lock`, or undefined when there is no lock or it names none. */
export async function lockOwnerPid(path: string): Promise<number | undefined> {
  const pid = Number((await readLock(path + LOCK_SUFFIX))?.owner.trim().split(/\s+/)[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Runs `work` as the only writer of `path`; callers that arrive while it runs get the same result. */
export function exclusive<T>(path: string, work: () => Promise<T>): Promise<T> {
  const running = inFlight.get(path) as Promise<T> | undefined;
  if (running) return running;
  const task = (async () => {
    const release = await acquireLock(path);
    try {
      return await work();
    } finally {
      await release();
    }
  })().finally(() => inFlight.delete(path));
  inFlight.set(path, task);
  return task;
}
