import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedListing, downloadFile, fetchListing, resolveHubOptions } from '../../src/hub/index.js';
import { isMoxingError } from '../../src/errors.js';
import { seededBytes, startFakeHub, type FakeHub } from './fake-hub.js';

const REPO = 'acme/many';
// Nine files: with pages of two, the listing takes five pages.
const FILES = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`onnx/part_${i}.onnx`, { bytes: seededBytes(100 + i, i + 1) }]));

describe('repo listings through the tree API', () => {
  let hub: FakeHub;
  let other: FakeHub;
  let dir: string;
  const hubOptions = (token?: string) => resolveHubOptions({ endpoint: hub.endpoint, cacheDir: dir, offline: false, token, retryDelayMs: 5 }, {});
  const snapshot = (name: string): string => join(dir, name);

  before(async () => {
    hub = await startFakeHub({ [REPO]: FILES });
    // Another origin (same host, another port) serving the same repos: where a Link or redirect may point.
    other = await startFakeHub({ [REPO]: FILES });
    dir = await mkdtemp(join(tmpdir(), 'moxing-listing-'));
  });
  after(async () => {
    await Promise.all([hub.close(), other.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('follows every next-page link and caches the whole listing', async () => {
    hub.treePageSize = 2;
    try {
      const before = hub.requests.length;
      const listing = await fetchListing(REPO, 'main', hubOptions(), snapshot('all'));
      assert.deepEqual([...(listing?.keys() ?? [])].sort(), Object.keys(FILES).sort());
      assert.equal(hub.requests.slice(before).length, 5);
      assert.deepEqual([...((await cachedListing(snapshot('all')))?.keys() ?? [])].sort(), Object.keys(FILES).sort());
    } finally {
      hub.treePageSize = undefined;
    }
  });

  it('a listing that does not end within the page cap is DOWNLOAD_FAILED and nothing is cached', async () => {
    hub.treePageSize = 2;
    try {
      await assert.rejects(fetchListing(REPO, 'main', hubOptions(), snapshot('capped'), 4), (e: unknown) => {
        assert.ok(isMoxingError(e, 'DOWNLOAD_FAILED'));
        assert.match(e.message, /acme\/many@main .* did not end within 4 pages; nothing was cached/);
        return true;
      });
      assert.equal(await cachedListing(snapshot('capped')), undefined, 'no partial listing is saved as if complete');
      // Five pages fit a cap of five.
      assert.equal((await fetchListing(REPO, 'main', hubOptions(), snapshot('capped'), 5))?.size, 9);

      hub.treeLinkLoop = true;
      await assert.rejects(fetchListing(REPO, 'main', hubOptions(), snapshot('loop')), (e: unknown) => isMoxingError(e, 'DOWNLOAD_FAILED') && /links back to a page already read/.test(e.message));
      assert.equal(await cachedListing(snapshot('loop')), undefined);
    } finally {
      hub.treePageSize = undefined;
      hub.treeLinkLoop = false;
    }
  });

  it('sends HF_TOKEN only to the endpoint origin, not to a next-page link on another origin', async () => {
    hub.treePageSize = 2;
    hub.treeNextBase = other.endpoint;
    other.treePageSize = 2;
    hub.requiredToken = 'hf_secret';
    try {
      const [hubBefore, otherBefore] = [hub.requests.length, other.requests.length];
      const listing = await fetchListing(REPO, 'main', hubOptions('hf_secret'), snapshot('link'));
      assert.equal(listing?.size, 9, 'the pages on the other origin are still read, without the token');
      const toHub = hub.requests.slice(hubBefore);
      const toOther = other.requests.slice(otherBefore);
      assert.equal(toHub.length, 1);
      assert.equal(toHub[0].authorization, 'Bearer hf_secret');
      assert.equal(toOther.length, 4);
      assert.ok(toOther.every((r) => r.authorization === undefined), 'no token to another origin');
    } finally {
      hub.treePageSize = undefined;
      hub.treeNextBase = undefined;
      other.treePageSize = undefined;
      hub.requiredToken = undefined;
    }
  });

  it('drops HF_TOKEN when the tree API or a file redirects to another origin', async () => {
    hub.treeRedirectTo = other.endpoint;
    try {
      const otherBefore = other.requests.length;
      const listing = await fetchListing(REPO, 'main', hubOptions('hf_secret'), snapshot('redirect'));
      assert.equal(listing?.size, 9);
      const toOther = other.requests.slice(otherBefore);
      assert.equal(toOther.length, 1);
      assert.equal(toOther[0].authorization, undefined);
    } finally {
      hub.treeRedirectTo = undefined;
    }
    // A file URL on another origin than the endpoint (a mirror's link, a CDN) never gets the token either.
    const before = { hub: hub.requests.length, other: other.requests.length };
    await downloadFile(REPO, 'onnx/part_0.onnx', join(dir, 'f', 'part_0.onnx'), { ...hubOptions('hf_secret'), endpoint: other.endpoint });
    assert.equal(hub.requests.length, before.hub);
    const sent = other.requests.slice(before.other);
    assert.equal(sent.find((r) => r.server === 'hub')?.authorization, 'Bearer hf_secret', 'the endpoint itself gets it');
    assert.ok(sent.filter((r) => r.server === 'cdn').every((r) => r.authorization === undefined));
  });
});
