/**
 * Webhooks: Standard Webhooks signatures verified by the `standardwebhooks` package; retries with backoff, every
 * attempt stored on the job; deliveries pending at a restart resume; the SSRF rules (non-public addresses
 * refused unless allowed, IPv4 inside IPv6 included; redirects not followed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { EmbeddedJobs, isPublicAddress, signWebhook, webhookDelayMs, type JobRecord } from '../../src/jobs/index.js';
import { SpeechModels } from '../../src/server/speech-models.js';
import { MODEL, SHORT_CLIP, tempDir, until } from './helpers.js';
import { readFileSync } from 'node:fs';

const SECRET = `whsec_${Buffer.from('a fixed secret of 32 bytes.....!').toString('base64')}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1 answering each POST with the next status of `statuses` (the last one repeats). */
async function receiver(statuses: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (d: Buffer) => (body += d.toString()));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)];
      response.writeHead(status, status === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

/** One pool for the file's backends, as a server shares one: each model loads once. */
const speech = new SpeechModels();

function backend(dataDir: string, options: Partial<ConstructorParameters<typeof EmbeddedJobs>[0]> = {}): EmbeddedJobs {
  return new EmbeddedJobs({
    dataDir, jobConcurrency: 1, jobTtlMs: 0, allowPrivateWebhooks: true, webhookMaxAttempts: 4, webhookBackoffMs: 20, webhookTimeoutMs: 5000, pollMs: 50,
    useModel: speech.use.bind(speech), ...options,
  });
}

const request = (url: string) => ({ model: MODEL, task: 'transcribe' as const, fields: { granularities: [], temperature: 0, temperature_inc: 0 }, baseUrl: 'http://localhost:8080', webhook: { url, secret: SECRET } });

test('the signature is the Standard Webhooks one: the standardwebhooks package verifies it and refuses a changed body', () => {
  const body = JSON.stringify({ id: 'job_x', status: 'succeeded' });
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(SECRET, 'msg_1', timestamp, body) };
  assert.deepEqual(new Webhook(SECRET).verify(body, headers), JSON.parse(body));
  assert.throws(() => new Webhook(SECRET).verify(body.replace('succeeded', 'failed'), headers));
  assert.throws(() => new Webhook(`whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`).verify(body, headers));
});

test('a succeeded job posts once signed, after retries with growing delays, every attempt stored on the job', async () => {
  const tmp = tempDir('moxing-hooks-');
  const hook = await receiver([500, 503, 204]);
  const jobs = backend(tmp.dir);
  try {
    const job = await jobs.submit(request(hook.url), readFileSync(SHORT_CLIP));
    const done = await until(() => jobs.get(job.id), (j) => j?.webhook?.state === 'delivered');
    assert.equal(done!.status, 'succeeded');
    assert.deepEqual(done!.webhook!.attempts.map((a) => a.statusCode), [500, 503, 204]);
    assert.deepEqual(done!.webhook!.attempts.map((a) => a.error), ['status 500', 'status 503', undefined]);
    assert.ok(done!.webhook!.attempts.every((a) => a.durationMs >= 0 && a.at >= job.createdAt));
    // Every retry carries the same message id (receivers drop duplicates), and each verifies.
    assert.equal(hook.received.length, 3);
    assert.equal(new Set(hook.received.map((r) => r.headers['webhook-id'])).size, 1);
    for (const r of hook.received) {
      const payload = new Webhook(SECRET).verify(r.body, r.headers as Record<string, string>) as Record<string, unknown>;
      assert.deepEqual(payload, { type: 'job.succeeded', id: job.id, status: 'succeeded', result_url: `http://localhost:8080/v1/jobs/${job.id}/result`, error: null, audio_seconds: done!.audioSeconds, finished_at: Math.floor(done!.finishedAt! / 1000) });
    }
    // The delays grow: attempt 2 waited at least base/2, attempt 3 at least base (exponential, jittered).
    const [a, b, c] = done!.webhook!.attempts;
    assert.ok(b.at - (a.at + a.durationMs) >= 10 - 2 && c.at - (b.at + b.durationMs) >= 20 - 2);
  } finally {
    await jobs.close();
    hook.server.close();
    tmp.cleanup();
  }
});

test('a failed job posts status "failed" with the error; a redirect is not followed; attempts stop at the limit', async () => {
  const tmp = tempDir('moxing-hooks-');
  const hook = await receiver([302]);
  const jobs = backend(tmp.dir, { webhookMaxAttempts: 3 });
  try {
    const job = await jobs.submit(request(hook.url), Buffer.from('not audio'));
    const done = await until(() => jobs.get(job.id), (j) => j?.webhook?.state === 'failed');
    assert.equal(done!.status, 'failed');
    assert.deepEqual(done!.webhook!.attempts.map((a) => a.error), Array(3).fill('redirect 302 not followed'));
    assert.equal(hook.received.length, 3);
    const payload = new Webhook(SECRET).verify(hook.received[0].body, hook.received[0].headers as Record<string, string>) as { status: string; error: { code: string }; result_url: null };
    assert.equal(payload.status, 'failed');
    assert.equal(payload.error.code, 'AUDIO_INVALID');
    assert.equal(payload.result_url, null);
  } finally {
    await jobs.close();
    hook.server.close();
    tmp.cleanup();
  }
});

test('without --allow-private-webhooks a loopback receiver is refused: no request reaches it', async () => {
  const tmp = tempDir('moxing-hooks-');
  const hook = await receiver([204]);
  const jobs = backend(tmp.dir, { allowPrivateWebhooks: false, webhookMaxAttempts: 2 });
  try {
    // Through the backend (the route refuses a literal loopback address before storing anything): `localhost`
    // is a name, judged by what it resolves to.
    const job = await jobs.submit(request(hook.url.replace('127.0.0.1', 'localhost')), Buffer.from('not audio'));
    const done = await until(() => jobs.get(job.id), (j) => j?.webhook?.state === 'failed');
    assert.equal(done!.webhook!.attempts.length, 2);
    for (const attempt of done!.webhook!.attempts) assert.match(attempt.error!, /^refused: localhost resolves to a loopback, private or other non-public address/);
    assert.equal(hook.received.length, 0);
  } finally {
    await jobs.close();
    hook.server.close();
    tmp.cleanup();
  }
});

test('a delivery pending when the process stops resumes at the next start', async () => {
  const tmp = tempDir('moxing-hooks-');
  const hook = await receiver([204]);
  const port = (hook.server.address() as AddressInfo).port;
  hook.server.close(); // down: the first process gets connection errors
  let first: EmbeddedJobs | undefined = backend(tmp.dir, { webhookBackoffMs: 60_000 });
  let second: EmbeddedJobs | undefined;
  try {
    const job = await first.submit(request(`http://127.0.0.1:${port}/hook`), Buffer.from('not audio'));
    const pending = await until(() => first!.get(job.id), (j) => (j?.webhook?.attempts.length ?? 0) >= 1);
    assert.equal(pending!.webhook!.state, 'pending');
    assert.match(pending!.webhook!.attempts[0].error!, /ECONNREFUSED/);
    await first.close();
    first = undefined;
    await new Promise<void>((resolve) => hook.server.listen(port, '127.0.0.1', resolve));
    // The retry was scheduled a minute out; the next start finds it and waits for its time. Here: made due now.
    second = backend(tmp.dir, { webhookBackoffMs: 20 });
    (second as unknown as { db: { prepare: (s: string) => { run: () => void } } }).db.prepare('UPDATE webhooks SET next_at = 0').run();
    const delivered = (await until(() => second!.get(job.id), (j) => j?.webhook?.state === 'delivered')) as JobRecord;
    assert.deepEqual(delivered.webhook!.attempts.map((a) => a.statusCode ?? null), [null, 204]);
    assert.equal(hook.received.length, 1);
  } finally {
    await first?.close();
    await second?.close();
    hook.server.close();
    tmp.cleanup();
  }
});

test('isPublicAddress refuses loopback, private, link-local, unique-local, multicast, unspecified and IPv4 inside IPv6', () => {
  for (const address of [
    '127.0.0.1', '127.255.255.254', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', 'fec0::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '::127.0.0.1', '64:ff9b::a00:1', '64:ff9b::127.0.0.1', '2001:db8::1', 'fe80::1%eth0', 'not-an-ip',
  ]) assert.equal(isPublicAddress(address), false, address);
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::808:808']) assert.equal(isPublicAddress(address), true, address);
});

test('retry delays double from the base, each in the upper half of its step', () => {
  assert.equal(webhookDelayMs(1, 1000, () => 0), 500);
  assert.equal(webhookDelayMs(1, 1000, () => 1), 1000);
  assert.equal(webhookDelayMs(4, 1000, () => 0), 4000);
  assert.equal(webhookDelayMs(4, 1000, () => 1), 8000);
});
