import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { downloadFile, HubHttpError, isNotFound, resolveHubOptions, resolveUrl } from '../../src/hub/index.js';
import { isMoxingError } from '../../src/errors.js';
import { seededBytes, sha256, startFakeHub, type FakeHub } from './fake-hub.js';

const REPO = 'test-org/blobs';
const BIG = seededBytes(300_000, 7);
const SMALL = Buffer.from('{"hello": "world"}\n');

describe('downloadFile against a local fake hub', () => {
  let hub: FakeHub;
  let dir: string;
  const fast = () => ({ endpoint: hub.endpoint, cacheDir: dir, offline: false, token: undefined, retryDelayMs: 5, maxAttempts: 4 });

  before(async () => {
    hub = await startFakeHub({
      [REPO]: {
        'onnx/big.onnx': { bytes: BIG },
        'config.json': { bytes: SMALL },
        'onnx/bad.onnx': { bytes: BIG.subarray(0, 1000), claimedSha256: sha256(Buffer.from('something else')) },
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'moxing-dl-'));
  });
  after(async () => {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('follows the LFS redirect to the CDN, verifies the sha256 and reports progress', async () => {
    const dest = join(dir, 'a', 'big.onnx');
    const seen: number[] = [];
    const result = await downloadFile(REPO, 'onnx/big.onnx', dest, { ...fast(), onProgress: (p) => seen.push(p.bytesDone) });
    assert.deepEqual(await readFile(dest), BIG);
    assert.equal(result.sha256, sha256(BIG));
    assert.equal(result.verified, true);
    assert.equal(result.bytes, BIG.length);
    assert.equal(seen.at(-1), BIG.length);
    assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), 'progress never goes back');
    const cdn = hub.requests.filter((r) => r.server === 'cdn');
    assert.ok(cdn.some((r) => r.status === 200), 'the bytes came from the CDN origin');
  });

  it('resumes with Range after the connection drops mid-file and ends with the right bytes', async () => {
    const dest = join(dir, 'b', 'big.onnx');
    // Cut each response once the client has 50000 more bytes on disk.
    let cuts = 0;
    hub.dropNext('onnx/big.onnx', 2, 50_000, async () => {
      const size = await stat(`${dest}.incomplete`).then((st) => st.size, () => 0);
      if (size < 50_000 * (cuts + 1)) return false;
      cuts++;
      return true;
    });
    const before = hub.requests.length;
    const result = await downloadFile(REPO, 'onnx/big.onnx', dest, fast());
    assert.equal(result.sha256, sha256(BIG));
    assert.equal(sha256(await readFile(dest)), sha256(BIG));
    const cdn = hub.requests.slice(before).filter((r) => r.server === 'cdn');
    assert.deepEqual(cdn.map((r) => r.status), [200, 206, 206]);
    assert.deepEqual(cdn.map((r) => r.range), [undefined, 'bytes=50000-', 'bytes=100000-']);
    assert.deepEqual(await readdir(dirname(dest)), ['big.onnx'], 'no .incomplete file is left');
  });

  it('resumes a partial file left by an earlier run, and restarts cleanly when the server ignores Range', async () => {
    const dest = join(dir, 'c', 'big.onnx');
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(`${dest}.incomplete`, BIG.subarray(0, 123_456));
    const before = hub.requests.length;
    await downloadFile(REPO, 'onnx/big.onnx', dest, fast());
    assert.deepEqual(await readFile(dest), BIG);
    assert.equal(hub.requests.slice(before).find((r) => r.server === 'cdn')?.status, 206);

    const dest2 = join(dir, 'c', 'again.onnx');
    await writeFile(`${dest2}.incomplete`, Buffer.from('garbage that must not survive'));
    hub.ignoreRange = true;
    try {
      await downloadFile(REPO, 'onnx/big.onnx', dest2, fast());
    } finally {
      hub.ignoreRange = false;
    }
    assert.deepEqual(await readFile(dest2), BIG, 'a 200 answer to a Range request starts the file over');
  });

  it('gives up after maxAttempts with DOWNLOAD_FAILED and keeps the partial file for the next try', async () => {
    const dest = join(dir, 'd', 'big.onnx');
    let cuts = 0;
    hub.dropNext('onnx/big.onnx', 2, 10_000, async () => {
      const size = await stat(`${dest}.incomplete`).then((st) => st.size, () => 0);
      if (size < 10_000 * (cuts + 1)) return false;
      cuts++;
      return true;
    });
    await assert.rejects(downloadFile(REPO, 'onnx/big.onnx', dest, { ...fast(), maxAttempts: 2 }), (e: unknown) => {
      assert.ok(isMoxingError(e, 'DOWNLOAD_FAILED'));
      assert.match(e.message, /after 2 attempts/);
      return true;
    });
    assert.equal((await stat(`${dest}.incomplete`)).size, 20_000);
    await downloadFile(REPO, 'onnx/big.onnx', dest, fast());
    assert.deepEqual(await readFile(dest), BIG);
  });

  it('a 404 is DOWNLOAD_FAILED naming the URL, with no retry', async () => {
    const before = hub.requests.length;
    const url = resolveUrl(hub.endpoint, REPO, 'main', 'onnx/missing.onnx');
    await assert.rejects(downloadFile(REPO, 'onnx/missing.onnx', join(dir, 'e', 'x'), fast()), (e: unknown) => {
      assert.ok(isMoxingError(e, 'DOWNLOAD_FAILED'));
      assert.ok(e.message.includes(url), e.message);
      assert.match(e.message, /404/);
      assert.match(e.message, /no such file; check --variant/);
      // Callers tell a missing file by the HTTP status the error carries, not by its wording.
      assert.ok(e instanceof HubHttpError);
      assert.equal(e.httpStatus, 404);
      assert.equal(e.url, url);
      assert.ok(isNotFound(e, url) && !isNotFound(e, `${url}x`));
      return true;
    });
    assert.equal(hub.requests.length - before, 1);
  });

  it('rejects a file whose sha256 differs from the hub etag and leaves nothing in place', async () => {
    const dest = join(dir, 'f', 'bad.onnx');
    await assert.rejects(downloadFile(REPO, 'onnx/bad.onnx', dest, fast()), (e: unknown) => isMoxingError(e, 'DOWNLOAD_FAILED') && /sha256/.test(e.message));
    assert.deepEqual(await readdir(dirname(dest)), []);
  });

  it('sends HF_TOKEN to the hub but not to the CDN on another origin; 401 says to set HF_TOKEN', async () => {
    hub.requiredToken = 'hf_secret';
    try {
      await assert.rejects(downloadFile(REPO, 'config.json', join(dir, 'g', 'config.json'), fast()), (e: unknown) => {
        assert.ok(isMoxingError(e, 'DOWNLOAD_FAILED'));
        assert.match(e.message, /401/);
        assert.match(e.message, /HF_TOKEN/);
        return true;
      });
      const before = hub.requests.length;
      const env = { HF_TOKEN: 'hf_secret', HF_ENDPOINT: hub.endpoint, MOXING_CACHE: dir };
      const fromEnv = resolveHubOptions({}, env);
      assert.equal(fromEnv.token, 'hf_secret');
      assert.equal(fromEnv.endpoint, hub.endpoint);
      await downloadFile(REPO, 'onnx/big.onnx', join(dir, 'g', 'big.onnx'), { ...fast(), token: fromEnv.token });
      const sent = hub.requests.slice(before);
      assert.equal(sent.find((r) => r.server === 'hub')?.authorization, 'Bearer hf_secret');
      assert.equal(sent.find((r) => r.server === 'cdn')?.authorization, undefined);
    } finally {
      hub.requiredToken = undefined;
    }
  });

  it('reads HF_ENDPOINT, MOXING_CACHE and both offline switches from the environment', () => {
    const o = resolveHubOptions({}, { HF_ENDPOINT: 'https://mirror.example/', MOXING_CACHE: '/tmp/mx', HF_HUB_OFFLINE: '1' });
    assert.equal(o.endpoint, 'https://mirror.example');
    assert.equal(o.cacheDir, '/tmp/mx');
    assert.equal(o.offline, true);
    assert.equal(resolveHubOptions({}, { MOXING_OFFLINE: '1' }).offline, true);
    assert.equal(resolveHubOptions({}, {}).offline, false);
    assert.equal(resolveHubOptions({}, {}).endpoint, 'https://huggingface.co');
    assert.match(resolveHubOptions({}, {}).cacheDir, /\.cache[\\/]moxing$/);
  });

  it('concurrent fetches of one file share one request, and a lock left by a dead process is taken over', async () => {
    const dest = join(dir, 'i', 'big.onnx');
    const before = hub.requests.length;
    const results = await Promise.all([1, 2, 3].map(() => downloadFile(REPO, 'onnx/big.onnx', dest, fast())));
    assert.ok(results.every((r) => r.bytes === BIG.length));
    assert.equal(hub.requests.slice(before).filter((r) => r.server === 'cdn').length, 1);

    const dest2 = join(dir, 'i', 'other.onnx');
    // pid 2^22 + 1 is above Linux's pid_max ceiling, so no live process owns it.
    await writeFile(`${dest2}.lock`, String(4_194_305));
    await downloadFile(REPO, 'onnx/big.onnx', dest2, fast());
    assert.deepEqual(await readFile(dest2), BIG);
    assert.deepEqual((await readdir(join(dir, 'i'))).sort(), ['big.onnx', 'other.onnx']);

    // An empty lock that has stayed empty for a minute lost its writer before it named itself: taken over too.
    const dest3 = join(dir, 'i', 'third.onnx');
    await writeFile(`${dest3}.lock`, '');
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(`${dest3}.lock`, minuteAgo, minuteAgo);
    await downloadFile(REPO, 'onnx/big.onnx', dest3, fast());
    assert.deepEqual(await readFile(dest3), BIG);
    assert.deepEqual((await readdir(join(dir, 'i'))).sort(), ['big.onnx', 'other.onnx', 'third.onnx']);
  });

  it('aborts a stalled response after idleTimeoutMs and resumes it', async () => {
    const payload = seededBytes(10_000, 5);
    const ranges: (string | undefined)[] = [];
    const stalled = createServer((req, res) => {
      ranges.push(req.headers.range);
      if (ranges.length === 1) {
        res.writeHead(200, { 'content-length': String(payload.length) });
        res.write(payload.subarray(0, 4000)); // then nothing more, connection left open
        return;
      }
      const start = Number(req.headers.range?.match(/\d+/)?.[0] ?? 0);
      res.writeHead(206, { 'content-length': String(payload.length - start), 'content-range': `bytes ${start}-${payload.length - 1}/${payload.length}` });
      res.end(payload.subarray(start));
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
      const dest = join(dir, 'j', 'stalled.bin');
      await downloadFile('x/y', 'stalled.bin', dest, { ...fast(), endpoint, idleTimeoutMs: 1000, expectedSha256: sha256(payload) });
      assert.deepEqual(await readFile(dest), payload);
      assert.deepEqual(ranges, [undefined, 'bytes=4000-']);
    } finally {
      stalled.closeAllConnections();
      await new Promise((r) => stalled.close(r));
    }
  });

  it('never touches the network in offline mode', async () => {
    const before = hub.requests.length;
    await assert.rejects(downloadFile(REPO, 'config.json', join(dir, 'h', 'c.json'), { ...fast(), offline: true }), (e: unknown) => isMoxingError(e, 'MODEL_OFFLINE'));
    assert.equal(hub.requests.length, before);
  });
  it('a host name that does not resolve fails at once, without retries and without talk of a partial file', async () => {
    const dest = join(dir, 'dns', 'config.json');
    const started = Date.now();
    await assert.rejects(
      downloadFile(REPO, 'config.json', dest, { ...fast(), endpoint: 'http://no-such-host.invalid', retryDelayMs: 2000 }),
      (e: unknown) => isMoxingError(e, 'DOWNLOAD_FAILED') && /does not resolve/.test(e.message) && !/partial|resume/.test(e.message),
    );
    assert.ok(Date.now() - started < 1500, 'no retry delays'); // four attempts would wait 2 + 4 + 8 s
  });
});
