/**
 * The server's hardening rules, each against the hole a hostile client found on the old server (issue 10):
 * request-given paths and hub ids, pixel bombs, Host rebinding, slow senders, leaks in errors, strict bodies,
 * and the layer every route runs under (key, CORS, rate limit, work limit, timeouts, body limits).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, redact, WorkLimiter, type AppOptions } from '../../src/server/index.js';
import { architectureFromFile } from '../../src/calc/index.js';
import { isMoxingError } from '../../src/errors.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { assertOneLineError } from '../helpers/cli.js';
import { startFakeHub, type FakeHub } from '../hub/fake-hub.js';
import { pngDeclaring } from '../helpers/png.js';
import { scratchDir } from '../helpers/scratch.js';

const apps: FastifyInstance[] = [];
after(() => Promise.all(apps.map((a) => a.close())));

async function app(options: AppOptions = {}): Promise<FastifyInstance> {
  const a = await buildApp({ images: false, calc: { hub: { offline: true } }, ...options });
  apps.push(a);
  return a;
}

async function post(a: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}) {
  const response = await a.inject({ method: 'POST', url, payload: payload as object, headers });
  return { status: response.statusCode, body: response.json(), headers: response.headers, raw: response.body };
}

describe('row 1: /v1/calc/* never reads a path from the request', () => {
  test('a local file is refused like any unknown name: same answer whether it exists or not, no content', async () => {
    const a = await app();
    const dir = await mkdtemp(join(tmpdir(), 'moxing-calc-'));
    const secret = join(dir, 'config.json');
    await writeFile(secret, 'secret-content-1234');
    try {
      const existing = await post(a, '/v1/calc/params', { model: secret });
      const missing = await post(a, '/v1/calc/params', { model: join(dir, 'absent.json') });
      const folder = await post(a, '/v1/calc/params', { model: dir });
      const relative = await post(a, '/v1/calc/params', { model: 'test/models' }); // an existing folder that parses as owner/name
      for (const r of [existing, missing, folder, relative]) {
        assert.equal(r.status, 404);
        assert.equal(r.body.error.code, 'MODEL_UNKNOWN');
        assert.doesNotMatch(r.raw, /secret-content|\/tmp\//);
      }
      assert.equal(existing.raw.replace('config.json', 'X'), missing.raw.replace('absent.json', 'X'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a 400 MB sparse file is refused by its size, before it is read (the CLI reads local paths)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'moxing-sparse-'));
    const path = join(dir, 'config.json');
    await writeFile(path, '');
    await truncate(path, 400 * 1024 * 1024);
    try {
      assert.throws(() => architectureFromFile(path), (e) => isMoxingError(e, 'CONFIG_INVALID') && /more than a config\.json can/.test(e.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a config file that is not JSON: the error never quotes its content', () => {
    return (async () => {
      const dir = await mkdtemp(join(tmpdir(), 'moxing-badjson-'));
      const path = join(dir, 'config.json');
      await writeFile(path, 'root:x:0:0:root:/root:/bin/bash');
      try {
        assert.throws(() => architectureFromFile(path), (e) => isMoxingError(e, 'CONFIG_INVALID') && !/root:x/.test(e.message));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })();
  });

  test('models given at start-up are served, by folder name and as given; presets and inline configs still work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'moxing-served-'));
    const model = join(dir, 'tiny-llama');
    await import('node:fs/promises').then((fs) => fs.mkdir(model));
    const config = { model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100 };
    await writeFile(join(model, 'config.json'), JSON.stringify(config));
    try {
      const a = await app({ models: [model] });
      const byName = await post(a, '/v1/calc/params', { model: 'tiny-llama' });
      const asGiven = await post(a, '/v1/calc/params', { model });
      const inline = await post(a, '/v1/calc/params', { model: config });
      assert.equal(byName.status, 200);
      assert.deepEqual(byName.body.parameters, inline.body.parameters);
      assert.deepEqual(asGiven.body.parameters, inline.body.parameters);
      assert.equal((await post(a, '/v1/calc/params', { model: 'llama-7b' })).body.parameters, 6_738_415_616);
      const unknown = await post(a, '/v1/calc/params', { model: 'nope' });
      assert.match(unknown.body.error.message, /served: tiny-llama/);
      assert.doesNotMatch(unknown.raw, /moxing-served/); // the folder's path is never listed
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('row 3: request-given hub ids', () => {
  let hub: FakeHub;
  let cacheDir: string;
  before(async () => {
    hub = await startFakeHub({
      'big/config': { 'config.json': { bytes: Buffer.alloc(5 * 1024 * 1024, 0x20), lfs: false } },
      'ok/config': { 'config.json': { bytes: Buffer.from(JSON.stringify({ model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, vocab_size: 100, n_positions: 128 })), lfs: false } },
    });
    hub.requiredToken = undefined;
    cacheDir = await mkdtemp(join(tmpdir(), 'moxing-hubcache-'));
  });
  after(async () => {
    await hub.close();
    await rm(cacheDir, { recursive: true, force: true });
  });
  const hubOptions = () => ({ endpoint: hub.endpoint, cacheDir, offline: false, token: 'hf_secret_token', maxAttempts: 1 });

  test('without --allow-remote-models an unknown hub id is 404 at once: no request, no cache folder', async () => {
    const a = await app({ calc: { hub: hubOptions() } });
    const answer = await post(a, '/v1/calc/params', { model: 'ok/config' });
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, 'MODEL_UNKNOWN');
    assert.equal(hub.requests.length, 0);
    assert.deepEqual(await readdir(cacheDir), []);
  });

  test('with it, downloads are size-capped and errors tell nothing of the endpoint or the token', async () => {
    const a = await app({ calc: { hub: hubOptions() }, security: { allowRemoteModels: true } });
    const ok = await post(a, '/v1/calc/params', { model: 'ok/config' });
    assert.equal(ok.status, 200);
    const big = await post(a, '/v1/calc/params', { model: 'big/config' });
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'PAYLOAD_TOO_LARGE');
    const missing = await post(a, '/v1/calc/params', { model: 'no/such-repo' });
    assert.ok(missing.status >= 400);
    for (const r of [big, missing]) assert.doesNotMatch(r.raw, /127\.0\.0\.1|http:|HF_TOKEN|token|HF_ENDPOINT/i);
    const files = (await readdir(cacheDir, { recursive: true })).map(String);
    assert.ok(!files.some((f) => f.includes('big--config') && f.endsWith('config.json')), `no oversized file kept: ${files.join(', ')}`);
  });
});

describe('row 2: image routes', () => {
  test('a 16000x16000 PNG of a few hundred bytes is 413 from its header, before any decoding or model load', async () => {
    // The model does not exist: a decode or a load would answer something else.
    const a = await buildApp({ calc: false, images: { model: 'no-such-vision-model-for-this-test' } });
    apps.push(a);
    const bomb = pngDeclaring(16000, 16000).toString('base64');
    const started = Date.now();
    const answer = await post(a, '/v1/images/embeddings', { images: [bomb, bomb, bomb] });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(answer.body.error.message, /16000x16000/);
    assert.ok(Date.now() - started < 2000);
  });

  test('bodies are strict: wrong types and unknown fields are 400, nothing coerced', async () => {
    const a = await buildApp({ calc: false, images: {} });
    apps.push(a);
    const coerced = await post(a, '/v1/images/search', { image: 'aGk=', k: '3' });
    assert.equal(coerced.status, 400);
    assert.match(coerced.body.error.message, /\bk\b/);
    const unknown = await post(a, '/v1/images/embeddings', { images: ['aGk='], extra: 1 });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /extra/);
  });

  test('an unknown model is 404 and its name is echoed cut short', async () => {
    const a = await buildApp({ calc: false, images: {} });
    apps.push(a);
    const huge = 'x'.repeat(900_000);
    const model = await post(a, '/v1/images/embeddings', { images: ['aGk='], model: 'z'.repeat(250) });
    assert.equal(model.status, 400); // over the field's 200-character limit
    const calc = await app({ images: false, security: { bodyLimitBytes: 2 * 1024 * 1024 } });
    const echo = await post(calc, '/v1/calc/params', { model: huge });
    assert.equal(echo.status, 400);
    assert.ok(echo.raw.length < 1000, `answer of ${echo.raw.length} bytes`);
    const unknown = await post(a, '/v1/images/embeddings', { images: ['aGk='], model: 'y'.repeat(199) });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'MODEL_UNKNOWN');
    assert.ok(unknown.raw.length < 400);
  });

  test('the body limit answers 413 in the error shape', async () => {
    const a = await app();
    const answer = await post(a, '/v1/calc/params', { model: 'llama-7b', pad: 'x'.repeat(1_100_000) });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.code, 'PAYLOAD_TOO_LARGE');
  });
});

describe('Host allow-list, API key, CORS', () => {
  test('a foreign Host is 403 (DNS rebinding); loopback names with ports pass', async () => {
    const a = await app();
    for (const host of ['localhost:8080', '127.0.0.1', '[::1]:9000', 'LOCALHOST']) {
      assert.equal((await a.inject({ url: '/health', headers: { host } })).statusCode, 200, host);
    }
    for (const host of ['evil.example', 'localhost.evil.example:8080', '127.0.0.2']) {
      const r = await a.inject({ url: '/health', headers: { host } });
      assert.equal(r.statusCode, 403, host);
      assert.equal(r.json().error.code, 'FORBIDDEN');
    }
    const open = await app({ security: { allowedHosts: 'any' } });
    assert.equal((await open.inject({ url: '/health', headers: { host: 'evil.example' } })).statusCode, 200);
  });

  test('with a key, every route but /health needs Authorization: Bearer KEY', async () => {
    const a = await app({ security: { apiKey: 'k-123' } });
    const none = await post(a, '/v1/calc/params', { model: 'llama-7b' });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'UNAUTHORIZED');
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal((await post(a, '/v1/calc/params', { model: 'llama-7b' }, { authorization: 'Bearer k-12' })).status, 401);
    assert.equal((await post(a, '/v1/calc/params', { model: 'llama-7b' }, { authorization: 'Bearer k-1234' })).status, 401);
    assert.equal((await post(a, '/v1/calc/params', { model: 'llama-7b' }, { authorization: 'k-123' })).status, 401);
    assert.equal((await post(a, '/v1/calc/params', { model: 'llama-7b' }, { authorization: 'Bearer k-123' })).status, 200);
    assert.equal((await a.inject({ url: '/health' })).statusCode, 200);
    assert.equal((await a.inject({ url: '/nothing' })).statusCode, 401); // unknown routes are not probed either
  });

  test('the key comes from MOXING_API_KEY when not given', async () => {
    process.env.MOXING_API_KEY = 'from-env';
    try {
      const a = await app();
      assert.equal((await post(a, '/v1/calc/params', { model: 'llama-7b' })).status, 401);
      assert.equal((await post(a, '/v1/calc/params', { model: 'llama-7b' }, { authorization: 'Bearer from-env' })).status, 200);
    } finally {
      delete process.env.MOXING_API_KEY;
    }
  });

  test('CORS is off unless an origin is given; a preflight passes before the key check', async () => {
    const off = await app();
    const plain = await off.inject({ url: '/health', headers: { origin: 'http://site.example' } });
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
    const on = await app({ security: { corsOrigins: ['http://site.example'], apiKey: 'k' } });
    const preflight = await on.inject({
      method: 'OPTIONS',
      url: '/v1/calc/params',
      headers: { origin: 'http://site.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'http://site.example');
    const other = await on.inject({ url: '/health', headers: { origin: 'http://other.example' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });
});

describe('limits: rate, concurrent work, handler time', () => {
  test('past the rate limit: 429 BUSY with Retry-After; /health is never limited', async () => {
    const a = await app({ security: { rateLimitPerMinute: 3 } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(a, '/v1/calc/params', { model: 'llama-7b' })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const limited = await post(a, '/v1/calc/params', { model: 'llama-7b' });
    assert.equal(limited.body.error.code, 'BUSY');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    for (let i = 0; i < 5; i++) assert.equal((await a.inject({ url: '/health' })).statusCode, 200);
  });

  test('model work past the concurrency and queue limits is 429 at once; the queue drains in order', async () => {
    const a = await buildApp({ images: false, calc: false, security: { maxConcurrentWork: 1, maxQueuedWork: 1 } });
    apps.push(a);
    const releases: (() => void)[] = [];
    const order: number[] = [];
    a.post('/test/work', async (request) => {
      const n = (request.body as { n: number }).n;
      return a.work(request, () => new Promise((resolve) => releases.push(() => resolve(order.push(n)))).then(() => ({ n })));
    });
    const first = a.inject({ method: 'POST', url: '/test/work', payload: { n: 1 } });
    await waitFor(() => releases.length === 1);
    const second = a.inject({ method: 'POST', url: '/test/work', payload: { n: 2 } });
    await waitFor(() => a.workLimiter.queued === 1);
    const third = await a.inject({ method: 'POST', url: '/test/work', payload: { n: 3 } });
    assert.equal(third.statusCode, 429);
    assert.equal(third.json().error.code, 'BUSY');
    assert.ok(third.headers['retry-after']);
    releases[0]();
    await waitFor(() => releases.length === 2);
    releases[1]();
    assert.equal((await first).statusCode, 200);
    assert.equal((await second).statusCode, 200);
    assert.deepEqual(order, [1, 2]);
  });

  test('a handler past its time limit is answered 503 TIMEOUT, and its slot is held until the work ends', async () => {
    const a = await buildApp({ images: false, calc: false, security: { handlerTimeoutMs: 100, maxConcurrentWork: 1 } });
    apps.push(a);
    let finish!: () => void;
    a.post('/test/slow', async (request) => a.work(request, () => new Promise<{ ok: true }>((resolve) => (finish = () => resolve({ ok: true })))));
    const slow = await a.inject({ method: 'POST', url: '/test/slow', payload: {} });
    assert.equal(slow.statusCode, 503);
    assert.equal(slow.json().error.code, 'TIMEOUT');
    assert.equal(a.workLimiter.active, 1);
    finish();
    await waitFor(() => a.workLimiter.active === 0);
  });

  test('WorkLimiter: a waiter whose request is aborted leaves the queue without running', async () => {
    const limiter = new WorkLimiter({ maxConcurrent: 1, maxQueued: 4 });
    let release!: () => void;
    const running = limiter.run(() => new Promise<void>((r) => (release = r)));
    const abort = new AbortController();
    let ran = false;
    const waiting = limiter.run(async () => void (ran = true), abort.signal);
    assert.equal(limiter.queued, 1);
    abort.abort(new Error('client gone'));
    await assert.rejects(waiting, /client gone/);
    assert.equal(limiter.queued, 0);
    release();
    await running;
    assert.equal(ran, false);
    assert.equal(limiter.active, 0);
  });
});

describe('on a real socket', () => {
  test('a slow sender is cut off with 408 once the request time is up; oversized headers get 431; both JSON', async () => {
    const a = await app({ security: { requestTimeoutMs: 600 } });
    await a.listen({ host: '127.0.0.1', port: 0 });
    const { port } = a.server.address() as AddressInfo;
    const started = Date.now();
    const slow = await rawExchange(port, async (socket) => {
      socket.write('POST /v1/calc/params HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
      for (let i = 0; i < 20 && !socket.destroyed; i++) {
        socket.write('{');
        await new Promise((r) => setTimeout(r, 150));
      }
    });
    assert.match(slow, /^HTTP\/1\.1 408/);
    assert.match(slow, /"code":"TIMEOUT"/);
    assert.ok(Date.now() - started < 2500, `cut after ${Date.now() - started} ms`);
    const big = await rawExchange(port, async (socket) => {
      socket.write(`GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    });
    assert.match(big, /^HTTP\/1\.1 431/);
    assert.match(big, /"code":"PAYLOAD_TOO_LARGE"/);
  });

  test('serve on a busy port: one line, exit 1, no report-a-bug wording', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const run = await runMoxingInProcess(['serve', '--port', String(port), '--no-log'], { MOXING_DATA: scratchDir('moxing-serve-') });
      assertOneLineError(run, /port \d+ on 127\.0\.0\.1 is already in use; .*--port/, 1);
      assert.doesNotMatch(run.stderr, /unexpected/);
    } finally {
      blocker.close();
    }
  });
});

describe('errors carry no paths, URLs or contents', () => {
  test('redact cuts absolute paths to their last part, removes URLs and bounds the length', () => {
    assert.equal(redact('image not found: /home/ann/pics/cat.jpg. Check the path.'), 'image not found: …/cat.jpg. Check the path.');
    assert.equal(redact('C:\\Users\\ann\\x.png is empty'), '…/x.png is empty');
    assert.equal(redact('fetch https://mirror.internal:8443/x/y?token=1 failed'), 'fetch <url> failed');
    assert.equal(redact('x'.repeat(5000)).length, 401);
    assert.equal(redact('invalid request body at "k"'), 'invalid request body at "k"');
  });

  test('unexpected failures answer 500 INTERNAL without the message or stack', async () => {
    const a = await app();
    a.get('/test/boom', async () => {
      throw new Error('secret detail at /srv/app/index.js:12');
    });
    const r = await a.inject({ url: '/test/boom' });
    assert.equal(r.statusCode, 500);
    assert.deepEqual(r.json(), { error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Writes with `send` on a raw socket and returns everything the server answered before it closed. */
function rawExchange(port: number, send: (socket: import('node:net').Socket) => Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => undefined); // a reset after the answer is expected
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => send(socket).catch(reject));
    setTimeout(() => socket.destroy(), 8000).unref();
  });
}

test('work on a keep-alive connection leaves no close listener behind: 30 requests, one socket, none left', async () => {
  const a = await app();
  let socket: import('node:net').Socket | undefined;
  a.get('/test/work', async (request) => {
    socket = request.raw.socket;
    return a.work(request, async () => ({ listeners: request.raw.socket.listenerCount('close') }));
  });
  await a.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(a.server.address() as AddressInfo).port}`;
  const counts: number[] = [];
  for (let i = 0; i < 30; i++) counts.push(((await (await fetch(`${base}/test/work`)).json()) as { listeners: number }).listeners);
  // The same socket served every request (keep-alive), and each request found the same listeners: its own
  // and the server's, never the earlier requests'.
  assert.ok(socket && !socket.destroyed);
  assert.equal(new Set(counts).size, 1, counts.join(','));
  assert.ok(socket.listenerCount('close') < counts[0], 'and the last one went with its request');
});
