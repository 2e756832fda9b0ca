/**
 * Scale-out on a real Redis (Debian's redis-server): `moxing serve --queue` takes the jobs, two `moxing worker`
 * processes run them. 20 jobs each complete exactly once (the log in each job's record); a worker SIGKILLed
 * mid-job has its job finished by the other (BullMQ's stalled-job recovery, with a short lock set by flags);
 * the result is the library's transcript; a webhook from a worker is signed and verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { transcribe } from '../../src/asr/whisper/index.js';
import { renderTranscript } from '../../src/formats/index.js';
import { startMoxing } from '../helpers/cli.js';
import { GREEDY, LONG_CLIPS, MODEL, settled, SHORT_CLIP, tempDir, until } from './helpers.js';
import { startRedis } from './redis.js';

type Job = { id: string; status: string; audio_seconds_done: number; runs: number; webhook: { state: string } | null };
const SECRET = `whsec_${Buffer.from('the secret of the redis test 32b').toString('base64')}`;

test('2 workers, 20 jobs on BullMQ: each completes once; a SIGKILLed worker\'s job is finished by the other', async () => {
  const tmp = tempDir('moxing-bullmq-');
  const redis = await startRedis(tmp.dir);
  // Each call is verified as it arrives (the package refuses timestamps older than 5 minutes).
  const received: unknown[] = [];
  const hook = createServer((request, response) => {
    let body = '';
    request.on('data', (d: Buffer) => (body += d.toString()));
    request.on('end', () => {
      try {
        received.push({ ...(new Webhook(SECRET).verify(body, request.headers as Record<string, string>) as object), messageId: request.headers['webhook-id'] });
      } catch (error) {
        received.push(error);
      }
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const children: ChildProcess[] = [];
  try {
    const data = join(tmp.dir, 'shared');
    const queue = ['--queue', redis.url, '--data-dir', data, '--allow-private-webhooks'];
    const server = await startMoxing(['serve', '--port', '0', '--no-log', '--model', MODEL, '--job-concurrency', '0', ...queue]);
    children.push(server.child);
    const base = server.line;
    const workers = await Promise.all([0, 1].map(() => startMoxing(['worker', ...queue, '--job-concurrency', '1', '--lock-duration-ms', '10000', '--stalled-interval-ms', '1000'], /running up to/)));
    children.push(...workers.map((w) => w.child));

    const submit = async (path: string, extra: Record<string, string> = {}): Promise<string> => {
      const form = new FormData();
      for (const [k, v] of Object.entries({ ...GREEDY, ...extra })) form.append(k, v);
      form.append('file', new Blob([readFileSync(path)]), 'clip.wav');
      const answer = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form });
      assert.equal(answer.status, 201, await answer.clone().text());
      return ((await answer.json()) as Job).id;
    };
    const longId = await submit(LONG_CLIPS[0]);
    const ids = [longId];
    for (let i = 0; i < 19; i++) ids.push(await submit(SHORT_CLIP, i === 0 ? { webhook_url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, webhook_secret: SECRET } : {}));
    const job = (id: string): Promise<Job> => fetch(`${base}/v1/jobs/${id}`).then((r) => r.json() as Promise<Job>);

    // Mid-job: the long job has decoded a window on one worker. That worker is killed.
    await until(() => job(longId), (j) => j.status === 'running' && j.audio_seconds_done > 0);
    const owner = String(await redis.command('HGET', `moxing:job:${longId}`, 'owner'));
    const victim = workers.find((w) => owner.endsWith(`:${w.child.pid}`));
    assert.ok(victim, `the owner ${owner} is one of the workers`);
    victim.child.kill('SIGKILL');

    const done = await until(async () => Promise.all(ids.map(job)), (jobs) => jobs.every(settled), 600_000);
    const history = async (id: string) => ((await redis.command('LRANGE', `moxing:job:${id}:log`, 0, -1)) as string[]).join(' ');
    assert.deepEqual(done.map((j) => j.status), Array(20).fill('succeeded'), JSON.stringify(await Promise.all(done.filter((j) => j.status !== 'succeeded').map(async (j) => [j, await history(j.id)]))));
    for (const id of ids) {
      const log = (await redis.command('LRANGE', `moxing:job:${id}:log`, 0, -1)) as string[];
      assert.equal(log.filter((e) => e.startsWith('succeeded@')).length, 1, `${id}: ${log.join(' ')}`);
    }
    // The killed run was taken over (a loaded machine may add a takeover of its own: still one success).
    const longLog = (await redis.command('LRANGE', `moxing:job:${longId}:log`, 0, -1)) as string[];
    assert.deepEqual(longLog.slice(0, 4), ['queued@0', 'started@1', 'requeued:stalled@1', 'started@2'], longLog.join(' '));
    assert.equal(done[0].runs, Number(longLog.at(-1)!.split('@')[1]));
    const finisher = String(await redis.command('HGET', `moxing:job:${longId}`, 'owner'));
    assert.notEqual(finisher, owner, 'the other worker finished it');

    // The results through the same routes: the library's transcript of the same audio.
    const library = await transcribe(LONG_CLIPS[0], { model: MODEL, temperature: 0 });
    assert.equal(await (await fetch(`${base}/v1/jobs/${longId}/result?format=srt`)).text(), renderTranscript(library, 'srt'));
    const short = await (await fetch(`${base}/v1/jobs/${ids[1]}/result?format=txt`)).text();
    for (const id of ids.slice(2)) assert.equal(await (await fetch(`${base}/v1/jobs/${id}/result?format=txt`)).text(), short);

    // The webhook, delivered by a worker, verifies.
    const hooked = await until(() => job(ids[1]), (j) => j.webhook?.state === 'delivered');
    assert.equal(hooked.webhook!.state, 'delivered');
    // At least once: a worker killed between its POST and its record leaves the delivery to the other, which
    // sends the same message again (the same webhook-id, what a receiver dedupes on).
    assert.ok(received.length >= 1);
    for (const delivery of received) {
      const payload = delivery as { id: string; status: string; result_url: string; messageId: string };
      assert.deepEqual([payload.id, payload.status, payload.result_url], [ids[1], 'succeeded', `${base}/v1/jobs/${ids[1]}/result`]);
      assert.equal(payload.messageId, (received[0] as { messageId: string }).messageId);
    }

    // Listing pages through the same route.
    const listed = (await (await fetch(`${base}/v1/jobs?limit=100&status=succeeded`)).json()) as { data: Job[] };
    assert.deepEqual(listed.data.map((j) => j.id), [...ids].reverse());
  } finally {
    for (const child of children) child.kill('SIGKILL');
    hook.close();
    await redis.stop();
    tmp.cleanup();
  }
});
