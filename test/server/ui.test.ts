/**
 * The web UI's static routes (app.inject): only the files of the build, with a CSP, without the API key, no
 * listing, no traversal, and a sentence at `/` when there is no build.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, UI_CONTENT_SECURITY_POLICY } from '../../src/server/index.js';

const KEY = 'ui-test-key';

describe('web UI routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-ui-'));
  const root = join(dir, 'ui');
  let app: FastifyInstance;

  before(async () => {
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>moxing</title><script type="module" src="/assets/index-abc.js"></script>');
    writeFileSync(join(root, 'assets', 'index-abc.js'), 'console.log("ui")');
    writeFileSync(join(root, 'assets', '.hidden'), 'dotfile');
    writeFileSync(join(dir, 'secret.txt'), 'SECRET-NEXT-TO-THE-BUILD');
    app = await buildApp({ images: false, calc: false, audio: false, security: { apiKey: KEY }, ui: { root } });
    // Written after start-up: not part of the build the server read, so never served.
    writeFileSync(join(root, 'assets', 'later.js'), 'LATER-CONTENT');
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('GET / answers index.html without the API key, with the CSP, nosniff and no caching of the page', async () => {
    const res = await app.inject({ url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /<title>moxing<\/title>/);
    assert.equal(res.headers['content-security-policy'], UI_CONTENT_SECURITY_POLICY);
    assert.match(UI_CONTENT_SECURITY_POLICY, /script-src 'self';/);
    assert.doesNotMatch(UI_CONTENT_SECURITY_POLICY, /unsafe/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.match(res.headers['cache-control'] as string, /max-age=0/);
  });

  test('a built asset is served with a long immutable cache; the API beside it still needs the key and has no page CSP', async () => {
    const res = await app.inject({ url: '/assets/index-abc.js' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /javascript/);
    assert.equal(res.body, 'console.log("ui")');
    assert.match(res.headers['cache-control'] as string, /immutable/);
    assert.equal(res.headers['content-security-policy'], UI_CONTENT_SECURITY_POLICY);
    const guarded = await buildApp({ images: false, audio: false, security: { apiKey: KEY }, ui: { root } });
    const refused = await guarded.inject({ url: '/v1/calc/params', method: 'POST', payload: { model: 'gpt2' } });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['content-security-policy'], undefined);
    const allowed = await guarded.inject({ url: '/v1/calc/params', method: 'POST', payload: { model: 'gpt2' }, headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(allowed.statusCode, 200);
    await guarded.close();
  });

  test('only the built files: no listing, no dotfiles, no later files, no traversal, no other path', async () => {
    // Names under /assets/ reach the asset route, which answers 404 for anything the build did not write.
    for (const url of ['/assets/', '/assets/.hidden', '/assets/later.js', '/assets/..%2f..%2fsecret.txt', '/assets/%2e%2e%2fsecret.txt', '/assets/..%5csecret.txt', '/assets/index-abc.js%00.html']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, `${url}: ${res.statusCode} ${res.body}`);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'NOT_FOUND', url);
      assert.doesNotMatch(res.body, /SECRET|dotfile|LATER-CONTENT|moxing-ui-/, url);
    }
    // Any other path is no route: 401 first on a server with a key (the key check runs before routing), 404 with it.
    for (const url of ['/assets', '/index.html', '/secret.txt', '/ui/index.html', '/../secret.txt']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 401, `${url}: ${res.statusCode} ${res.body}`);
      const keyed = await app.inject({ url, headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(keyed.statusCode, 404, `${url}: ${keyed.statusCode} ${keyed.body}`);
      assert.doesNotMatch(keyed.body, /SECRET|<title>/, url);
    }
  });

  test('without a build, / says so in words; ui: false leaves the routes out', async () => {
    const bare = await buildApp({ images: false, calc: false, audio: false, ui: { root: join(dir, 'missing') } });
    const res = await bare.inject({ url: '/' });
    assert.equal(res.statusCode, 503);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    assert.match(res.body, /web UI is not built.*npm run build/);
    assert.equal((await bare.inject({ url: '/assets/index-abc.js' })).statusCode, 404);
    await bare.close();
    const none = await buildApp({ images: false, calc: false, audio: false, ui: false });
    assert.equal((await none.inject({ url: '/' })).statusCode, 404);
    await none.close();
  });
});

describe('URLs the router cannot match', () => {
  test('bad percent-encoding and over-long path parameters answer the JSON error shape, echoing nothing', async () => {
    const app = await buildApp({ images: false, calc: false, audio: false, ui: { root: tmpdir() } });
    for (const [url, status] of [['/assets/%c0%ae%c0%ae%2fpasswd', 400], [`/assets/${'a'.repeat(300)}.js`, 400]] as const) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, status, res.body);
      assert.deepEqual(Object.keys(res.json() as object), ['error']);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'BAD_ARGUMENT');
      assert.doesNotMatch(res.body, /passwd|aaaa/);
    }
    await app.close();
  });
});
