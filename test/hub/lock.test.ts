import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLock, exclusive } from '../../src/hub/index.js';

// 2^22 + 1 is above Linux's pid_max ceiling, so no live process owns it.
const DEAD_PID = '4194305';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'moxing-lock-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `count` acquirers of `path` with staggered starts; returns the most that held the lock at once. */
async function contend(path: string, count: number): Promise<number> {
  let holders = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      // Staggered by a few ms so that waiters judge the stale lock at different moments: the interleaving
      // in which a plain "remove, then create" takeover lets two of them in.
      await sleep(i % 6);
      const release = await acquireLock(path);
      holders++;
      most = Math.max(most, holders);
      await sleep(15);
      holders--;
      await release();
    }),
  );
  return most;
}

describe('the cross-process file lock', () => {
  it('lets exactly one of many concurrent acquirers take over a lock left by a dead process at a time', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.onnx');
      await writeFile(`${path}.lock`, DEAD_PID);
      assert.equal(await contend(path, 10), 1);
      assert.deepEqual(await readdir(dir), [], 'no lock or break marker is left behind');
    });
  });

  it('takes over when the waiter that was breaking the stale lock died mid-break', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.onnx');
      await writeFile(`${path}.lock`, DEAD_PID);
      const info = await stat(`${path}.lock`);
      const digest = createHash('sha256').update(DEAD_PID).update(String(info.mtimeMs)).digest('hex').slice(0, 16);
      await writeFile(`${path}.lock.break-${digest}.lock`, `${DEAD_PID} deadbeef`);
      assert.equal(await contend(path, 3), 1);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it('waits for a live owner, names itself in the lock, and releases only its own lock', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.onnx');
      // The test runner that started us stands for a live owner in another process.
      await writeFile(`${path}.lock`, `${process.ppid} other-owner`);
      let acquired = false;
      const waiting = acquireLock(path).then((release) => {
        acquired = true;
        return release;
      });
      await sleep(300);
      assert.equal(acquired, false, 'a live owner is waited for');
      await rm(`${path}.lock`);
      const release = await waiting;
      assert.match(await readFile(`${path}.lock`, 'utf8'), new RegExp(`^${process.pid} [0-9a-f]{16}$`));
      // Someone else's lock now sits at the path (as after a wrong takeover): releasing must leave it alone.
      await writeFile(`${path}.lock`, `${process.pid} someone-else`);
      await release();
      assert.equal(await readFile(`${path}.lock`, 'utf8'), `${process.pid} someone-else`);
    });
  });

  it('takes over a lock that names our pid but none of our locks (a dead process whose pid we reuse)', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.onnx');
      await writeFile(`${path}.lock`, `${process.pid} 0123456789abcdef`);
      const release = await acquireLock(path);
      assert.notEqual(await readFile(`${path}.lock`, 'utf8'), `${process.pid} 0123456789abcdef`);
      await release();
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it('keeps separate processes apart: they take turns, after taking over a dead owner\'s lock', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.onnx');
      const log = join(dir, 'log.txt');
      await writeFile(`${path}.lock`, DEAD_PID);
      const lockModule = new URL('../../src/hub/lock.ts', import.meta.url).href;
      // Each process marks its turn with "(" and ")"; overlapping turns would nest them.
      const script = `
        import { appendFile } from 'node:fs/promises';
        import { acquireLock } from ${JSON.stringify(lockModule)};
        const release = await acquireLock(${JSON.stringify(path)});
        await appendFile(${JSON.stringify(log)}, '(');
        await new Promise((r) => setTimeout(r, 50));
        await appendFile(${JSON.stringify(log)}, ')');
        await release();`;
      const codes = await Promise.all(
        [1, 2, 3].map(
          () =>
            new Promise<number | null>((resolve, reject) => {
              const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
              child.on('error', reject);
              child.on('close', resolve);
            }),
        ),
      );
      assert.deepEqual(codes, [0, 0, 0]);
      assert.equal(await readFile(log, 'utf8'), '()()()');
      assert.deepEqual((await readdir(dir)).sort(), ['log.txt']);
    });
  });

  it('exclusive shares one run among callers in this process', async () => {
    await withDir(async (dir) => {
      let runs = 0;
      const work = async (): Promise<number> => {
        runs++;
        await sleep(10);
        return 42;
      };
      const results = await Promise.all([1, 2, 3].map(() => exclusive(join(dir, 'x'), work)));
      assert.deepEqual(results, [42, 42, 42]);
      assert.equal(runs, 1);
    });
  });
});
