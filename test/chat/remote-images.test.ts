import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { fetchRemoteImage, inlineRemoteImages, type ChatMessage } from '../../src/chat/index.js';
import { decodeImages } from '../../src/chat/image-parts.js';
import { isMoxingError } from '../../src/errors.js';

// One suite, so that its hooks stay its own when the runner imports it beside other files in one process.
describe('chat/remote-images', () => {
  let server: Server;
  let base = '';
  let png: Buffer;
  /** Paths asked for, in order: what the server was made to fetch. */
  const asked: string[] = [];
  const LOCAL = { allowPrivate: true, timeoutMs: 2000 };

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/cat.png': (_req, res) => res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png),
    '/chunked.png': (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(png.subarray(0, 10));
      res.end(png.subarray(10));
    },
    '/moved': (_req, res) => res.writeHead(302, { location: '/cat.png' }).end(),
    '/loop': (_req, res) => res.writeHead(301, { location: '/loop' }).end(),
    '/to-ftp': (_req, res) => res.writeHead(302, { location: 'ftp://127.0.0.1/cat.png' }).end(),
    '/page': (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>secret page text</html>'),
    '/missing': (_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('secret 404 text'),
    '/huge': (_req, res) => res.writeHead(200, { 'content-type': 'image/png', 'content-length': 10_000_000 }).end(),
    '/endless': (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 1);
      res.on('close', () => clearInterval(timer));
    },
    '/silent': () => undefined,
  };

  before(async () => {
    const pixels = Buffer.alloc(24 * 20 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 256;
    png = await sharp(pixels, { raw: { width: 24, height: 20, channels: 3 } }).png().toBuffer();
    server = createServer((req, res) => {
      asked.push(req.url ?? '');
      (routes[req.url ?? ''] ?? ((_q, r: ServerResponse) => r.writeHead(500).end()))(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const fails = (code: string, pattern: RegExp) => (e: unknown) => {
    assert.ok(isMoxingError(e, code as never), String(e));
    assert.match((e as Error).message, pattern);
    assert.doesNotMatch((e as Error).message, /secret|127\.0\.0\.1:\d+ /);
    return true;
  };

  test('an image is fetched whole, with a Content-Length or chunked, and through a redirect', async () => {
    for (const path of ['/cat.png', '/chunked.png', '/moved']) {
      const { bytes, type } = await fetchRemoteImage(`${base}${path}`, 1_000_000, LOCAL);
      assert.deepEqual(bytes, png, path);
      assert.equal(type, 'image/png');
    }
  });

  test('inlined, a remote image decodes to the pixels of the same bytes sent as a data URL; text and data URLs pass as they are', async () => {
    const dataUrl = `data:image/png;base64,${png.toString('base64')}`;
    const messages: ChatMessage[] = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: `${base}/cat.png` } }, { type: 'text', text: 'what?' }, { type: 'image_url', image_url: { url: dataUrl } }] },
    ];
    const inlined = await inlineRemoteImages(messages, LOCAL);
    assert.deepEqual(inlined[0], messages[0]);
    const parts = inlined[1].content as { type: string; image_url?: { url: string } }[];
    assert.equal(parts[0].image_url?.url, dataUrl);
    assert.deepEqual(parts.slice(1), (messages[1].content as unknown[]).slice(1));
    const [remote, local] = await decodeImages(inlined);
    assert.deepEqual(remote, local);
  });

  test('loopback and private addresses are refused unless allowed, before any connection', async () => {
    const before = asked.length;
    await assert.rejects(fetchRemoteImage(`${base}/cat.png`, 1_000_000), fails('FORBIDDEN', /non-public address.*--allow-private-remote-images/));
    await assert.rejects(fetchRemoteImage('http://[::1]/cat.png', 1_000_000), fails('FORBIDDEN', /non-public/));
    await assert.rejects(fetchRemoteImage('http://10.1.2.3/cat.png', 1_000_000), fails('FORBIDDEN', /non-public/));
    await assert.rejects(fetchRemoteImage('http://localhost/cat.png', 1_000_000), fails('FORBIDDEN', /non-public/));
    assert.equal(asked.length, before, 'the server was never asked');
  });

  test('bad URLs, redirects, answers and sizes are clear errors that quote nothing of the answer', async () => {
    await assert.rejects(fetchRemoteImage('ftp://127.0.0.1/cat.png', 1000, LOCAL), fails('BAD_ARGUMENT', /http:\/\/ or https:\/\//));
    await assert.rejects(fetchRemoteImage(`http://user:pw@127.0.0.1/cat.png`, 1000, LOCAL), fails('BAD_ARGUMENT', /credentials/));
    await assert.rejects(fetchRemoteImage('http://no host', 1000, LOCAL), fails('BAD_ARGUMENT', /not a URL/));
    await assert.rejects(fetchRemoteImage(`${base}/loop`, 1000, LOCAL), fails('BAD_ARGUMENT', /redirects more than 3 times/));
    await assert.rejects(fetchRemoteImage(`${base}/to-ftp`, 1000, LOCAL), fails('BAD_ARGUMENT', /redirect .* must be http/));
    await assert.rejects(fetchRemoteImage(`${base}/page`, 1000, LOCAL), fails('IMAGE_INVALID', /text\/html.*not an image/));
    await assert.rejects(fetchRemoteImage(`${base}/missing`, 1000, LOCAL), fails('BAD_ARGUMENT', /HTTP 404/));
    await assert.rejects(fetchRemoteImage(`${base}/huge`, 1_000_000, LOCAL), fails('PAYLOAD_TOO_LARGE', /1000000-byte limit/));
    await assert.rejects(fetchRemoteImage(`${base}/endless`, 1_000_000, LOCAL), fails('PAYLOAD_TOO_LARGE', /1000000-byte limit/));
    await assert.rejects(fetchRemoteImage(`${base}/cat.png`, png.length - 1, LOCAL), fails('PAYLOAD_TOO_LARGE', /limit/));
    const started = performance.now();
    await assert.rejects(fetchRemoteImage(`${base}/silent`, 1000, { allowPrivate: true, timeoutMs: 300 }), fails('BAD_ARGUMENT', /within 300 ms/));
    assert.ok(performance.now() - started < 2000);
  });

  test('more images than allowed are refused before anything is fetched', async () => {
    const before = asked.length;
    const content = Array.from({ length: 3 }, () => ({ type: 'image_url' as const, image_url: { url: `${base}/cat.png` } }));
    await assert.rejects(inlineRemoteImages([{ role: 'user', content }], LOCAL, { maxImages: 2, maxImageBytes: 1_000_000, maxImagePixels: 1_000_000 }), fails('BAD_ARGUMENT', /at most 2/));
    assert.equal(asked.length, before);
  });
});
