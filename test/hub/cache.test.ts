import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listCachedSnapshots, locateModel, parseModelRef, snapshotDir } from '../../src/hub/index.js';
import { isMoxingError } from '../../src/errors.js';

describe('cache folder names', () => {
  it('rejects repo ids with "--" or ".." at parse time, as the hub does', () => {
    for (const bad of ['acme--labs/model', 'acme/my--model', 'acme/my..model', 'acme/..']) {
      assert.throws(() => parseModelRef(bad), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN') && /forbids "--" and "\.\."/.test(e.message), bad);
    }
    const ok = parseModelRef('acme-labs/my-model.v2_x');
    assert.equal(ok.kind === 'hub' && ok.repo, 'acme-labs/my-model.v2_x');
    // A ModelRef built in code is checked where it becomes a folder name.
    assert.throws(() => snapshotDir('/c', 'a--b/c', 'main'), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN') && /a--b\/c/.test(e.message));
  });

  it('rejects revisions that could leave the snapshot folder', () => {
    for (const bad of ['acme/model@..', 'acme/model@refs/../../x', 'acme/model@.hidden', 'acme/model@a//b', 'acme/model@a/']) {
      assert.throws(() => parseModelRef(bad), (e: unknown) => isMoxingError(e, 'MODEL_UNKNOWN') && /revision after @/.test(e.message), bad);
    }
    assert.throws(() => locateModel('acme/model', { cacheDir: '/c', revision: '..' }), (e: unknown) => isMoxingError(e, 'BAD_ARGUMENT') && /--revision/.test(e.message));
    const pinned = parseModelRef('acme/model@refs/pr/2');
    assert.equal(pinned.kind === 'hub' && pinned.revision, 'refs/pr/2');
  });

  it('maps (repo, revision) to folders one to one, and lists them back exactly', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'moxing-names-'));
    try {
      const pairs = [
        ['acme/model', 'main'],
        ['acme/model', 'refs/pr/2'],
        ['acme/model', 'feat--x'], // a branch may hold "--": it must not read back as feat/x
        ['acme/model', 'feat/x'],
        ['acme-labs/model', 'v1.0'],
        ['acme/labs-model', 'v1.0'],
      ] as const;
      const dirs = pairs.map(([repo, rev]) => snapshotDir(cache, repo, rev));
      assert.equal(new Set(dirs).size, pairs.length, 'no two pairs share a folder');
      assert.equal(dirs[1], join(cache, 'models', 'acme--model', 'refs%2Fpr%2F2'));
      for (const dir of dirs) {
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'config.json'), '{}');
      }
      // Folders that are no owner--name of a valid id are not ours: skipped, not mis-read.
      for (const stray of ['stray', 'a--b--c', '--x', 'x--']) {
        await mkdir(join(cache, 'models', stray, 'main'), { recursive: true });
        await writeFile(join(cache, 'models', stray, 'main', 'f'), 'x');
      }
      await mkdir(join(cache, 'models', 'acme--model', 'bad%zz'), { recursive: true });
      await writeFile(join(cache, 'models', 'acme--model', 'bad%zz', 'f'), 'x');

      const listed = await listCachedSnapshots(cache);
      const key = (repo: string, revision: string): string => `${repo}@${revision}`;
      assert.deepEqual(listed.map((s) => key(s.repo, s.revision)).sort(), pairs.map(([repo, rev]) => key(repo, rev)).sort());
      for (const s of listed) assert.equal(s.dir, snapshotDir(cache, s.repo, s.revision));
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
