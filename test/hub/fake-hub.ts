/**
 * A stand-in for the Hugging Face hub on 127.0.0.1 (test helper, not a test): the resolve route with the
 * hub's LFS behaviour (302 to a CDN on another origin, x-linked-etag / x-linked-size), Range requests,
 * the tree API (paged with Link headers on request), and knobs for failures: dropped connections, ignored
 * Range, wrong sha256, 401s, redirects and next-page links to another server.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  readonly bytes: Buffer;
  /** Served as an LFS file: 302 to the CDN with the sha256 etag. @default true for .onnx files */
  readonly lfs?: boolean;
  /** Announce this sha256 instead of the true one. */
  readonly claimedSha256?: string;
}

export interface RequestLog {
  readonly server: 'hub' | 'cdn';
  readonly url: string;
  readonly range: string | undefined;
  readonly authorization: string | undefined;
  readonly status: number;
}

export interface FakeHub {
  readonly endpoint: string;
  readonly requests: RequestLog[];
  /** repo → path → file. */
  readonly repos: Map<string, Map<string, FakeFile>>;
  /**
   * Drop the connection after this many body bytes, for the next N responses of `path`; with `until`, only
   * once it resolves (e.g. when the client has written those bytes), so the test does not depend on timing.
   */
  dropNext(path: string, times: number, afterBytes: number, until?: () => Promise<boolean>): void;
  /** Ignore Range headers (answer 200 with the whole file). */
  ignoreRange: boolean;
  /** Answer the tree API with 404, as a mirror without it would. */
  noTreeApi: boolean;
  /** Token the hub demands; requests without it get 401. */
  requiredToken: string | undefined;
  /** Page the tree API at this many entries, with `Link: <…&cursor=N>; rel="next"` as the hub does. */
  treePageSize: number | undefined;
  /** Origin the tree's next-page links point at (another server, to check where the token goes). @default this hub */
  treeNextBase: string | undefined;
  /** Every next-page link points back at the page itself, as a broken server's might. */
  treeLinkLoop: boolean;
  /** Answer the tree API with a 302 to the same path on this origin. */
  treeRedirectTo: string | undefined;
  close(): Promise<void>;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift), so tests need no fixtures. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startFakeHub(repos: Record<string, Record<string, FakeFile>>): Promise<FakeHub> {
  const files = new Map(Object.entries(repos).map(([repo, f]) => [repo, new Map(Object.entries(f))]));
  const drops = new Map<string, { times: number; afterBytes: number; until?: () => Promise<boolean> }>();
  const requests: RequestLog[] = [];
  const blobs = new Map<string, { file: FakeFile; path: string }>();

  const serveBytes = (req: IncomingMessage, res: ServerResponse, file: FakeFile, path: string, headers: Record<string, string>): number => {
    const { bytes } = file;
    let start = 0;
    let status = 200;
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    if (range && !hub.ignoreRange) {
      start = Number(range[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
        return 416;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    const body = bytes.subarray(start);
    res.writeHead(status, { ...headers, 'content-length': String(body.length), 'accept-ranges': 'bytes' });
    const drop = drops.get(path);
    if (drop && drop.times > 0) {
      drop.times--;
      // Let the client read what was sent before the connection goes, as a real mid-file drop would.
      const cut = async (): Promise<void> => {
        if (drop.until) for (let i = 0; i < 500 && !(await drop.until()); i++) await new Promise((r) => setTimeout(r, 10));
        else await new Promise((r) => setTimeout(r, 100));
        res.socket?.destroy();
      };
      res.write(body.subarray(0, Math.min(drop.afterBytes, body.length)), () => void cut());
    } else {
      res.end(body);
    }
    return status;
  };

  const cdn = createServer((req, res) => {
    const id = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/blobs\//, ''));
    const blob = blobs.get(id);
    const status = blob ? serveBytes(req, res, blob.file, blob.path, { etag: '"cdn-etag"' }) : (res.writeHead(404).end(), 404);
    requests.push({ server: 'cdn', url: req.url ?? '', range: req.headers.range, authorization: req.headers.authorization, status });
  });
  const cdnBase = await listen(cdn);

  const hubServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const log = (status: number): void => {
      requests.push({ server: 'hub', url: req.url ?? '', range: req.headers.range, authorization: req.headers.authorization, status });
    };
    if (hub.requiredToken && req.headers.authorization !== `Bearer ${hub.requiredToken}`) {
      res.writeHead(401, { 'x-error-code': 'GatedRepo' }).end('unauthorized');
      return log(401);
    }
    const tree = url.pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/);
    if (tree) {
      if (hub.treeRedirectTo) {
        res.writeHead(302, { location: `${hub.treeRedirectTo}${req.url ?? '/'}` }).end();
        return log(302);
      }
      const repo = files.get(tree[1]);
      if (!repo || hub.noTreeApi || tree[2] !== 'main') {
        res.writeHead(404).end();
        return log(404);
      }
      const all = [...repo.entries()].map(([path, f]) => ({
        type: 'file',
        path,
        size: f.bytes.length,
        oid: 'x'.repeat(40),
        ...(isLfs(path, f) ? { lfs: { oid: f.claimedSha256 ?? sha256(f.bytes), size: f.bytes.length, pointerSize: 130 } } : {}),
      }));
      const size = hub.treePageSize;
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const entries = size ? all.slice(cursor, cursor + size) : all;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (size && cursor + size < all.length) {
        const next = new URL(req.url ?? '/', hub.treeNextBase ?? hub.endpoint);
        if (!hub.treeLinkLoop) next.searchParams.set('cursor', String(cursor + size));
        headers.link = `<${next.href}>; rel="next"`;
      }
      res.writeHead(200, headers).end(JSON.stringify(entries));
      return log(200);
    }
    const resolve = url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    // Only the main branch exists, as in a fresh repo; other revisions are 404s like the hub's RevisionNotFound.
    const repoFiles = resolve && resolve[2] === 'main' ? files.get(resolve[1]) : undefined;
    const path = resolve ? decodeURIComponent(resolve[3]) : '';
    const file = repoFiles?.get(path);
    if (resolve && !files.has(resolve[1])) {
      // The hub answers anonymous requests for unknown repos with 401, not 404.
      res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end('Repository not found');
      return log(401);
    }
    if (!file) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return log(404);
    }
    const sha = file.claimedSha256 ?? sha256(file.bytes);
    if (isLfs(path, file)) {
      const id = `${resolve?.[1]}/${path}`;
      blobs.set(id, { file, path });
      res.writeHead(302, { location: `${cdnBase}/blobs/${encodeURIComponent(id)}`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(file.bytes.length), etag: `"${sha}"` }).end();
      return log(302);
    }
    log(serveBytes(req, res, file, path, { etag: `"${'b'.repeat(40)}"` }));
  });
  const endpoint = await listen(hubServer);

  const hub: FakeHub = {
    endpoint,
    requests,
    repos: files,
    dropNext(path, times, afterBytes, until) {
      drops.set(path, { times, afterBytes, ...(until ? { until } : {}) });
    },
    ignoreRange: false,
    noTreeApi: false,
    requiredToken: undefined,
    treePageSize: undefined,
    treeNextBase: undefined,
    treeLinkLoop: false,
    treeRedirectTo: undefined,
    async close() {
      hubServer.closeAllConnections();
      cdn.closeAllConnections();
      await Promise.all([new Promise((r) => hubServer.close(r)), new Promise((r) => cdn.close(r))]);
    },
  };
  return hub;
}

function isLfs(path: string, file: FakeFile): boolean {
  return file.lfs ?? /\.onnx(_data.*)?$/.test(path);
}

/** A tiny Whisper-shaped repo: graphs of seeded bytes for the given layout and variant, and JSON configs. */
export function whisperRepo(layout: 'merged' | 'split' | 'both', suffix = '', graphBytes = 64 * 1024): Record<string, FakeFile> {
  const out: Record<string, FakeFile> = {};
  const graph = (name: string, seed: number): void => {
    out[`onnx/${name}${suffix}.onnx`] = { bytes: seededBytes(graphBytes, seed) };
  };
  graph('encoder_model', 1);
  if (layout !== 'split') graph('decoder_model_merged', 2);
  if (layout !== 'merged') {
    graph('decoder_model', 3);
    graph('decoder_with_past_model', 4);
  }
  for (const name of ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']) {
    out[name] = { bytes: Buffer.from(JSON.stringify({ name })) };
  }
  return out;
}
