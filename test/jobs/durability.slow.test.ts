/**
 * Issue 12's durability test: `moxing serve` as a child process with a data folder, 6 jobs submitted, the
 * process SIGKILLed while 1 job runs and 5 wait, then started again. Every job must complete exactly once
 * (counted in the database's job log, written in the transaction that finishes a job), the killed job continues
 * from the checkpoint of its last completed window, and each result equals that of a twin job on the same audio
 * that was never killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startMoxing } from '../helpers/cli.js';
import { GREEDY, LONG_CLIPS, MODEL, settled, tempDir, until } from './helpers.js';

type Job = { id: string; status: string; audio_seconds_done: number; runs: number };

async function startServer(dataDir: string): Promise<{ child: ChildProcess; base: string; startedAt: number }> {
  const startedAt = performance.now();
  const { child, line } = await startMoxing(['serve', '--port', '0', '--no-log', '--model', MODEL, '--data-dir', dataDir, '--job-concurrency', '1']);
  return { child, base: line, startedAt };
}

test('SIGKILL with 1 job running and 5 queued: after a restart every job completes exactly once, with the results of an unkilled run', async () => {
  const tmp = tempDir('moxing-durable-');
  let server = await startServer(tmp.dir);
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const data = new FormData();
      for (const [k, v] of Object.entries(GREEDY)) data.append(k, v);
      data.append('file', new Blob([readFileSync(LONG_CLIPS[i % 3])]), 'long.wav');
      const answer = await fetch(`${server.base}/v1/jobs`, { method: 'POST', body: data });
      assert.equal(answer.status, 201);
      ids.push(((await answer.json()) as Job).id);
    }
    const list = async (base: string): Promise<Job[]> => ((await (await fetch(`${base}/v1/jobs?limit=100`)).json()) as { data: Job[] }).data;
    // Mid-job: the first job has decoded a window and the other five wait.
    const before = await until(() => list(server.base), (jobs) => jobs.some((j) => j.status === 'running' && j.audio_seconds_done > 0));
    const running = before.filter((j) => j.status === 'running');
    assert.equal(running.length, 1);
    assert.equal(before.filter((j) => j.status === 'queued').length, 5);
    const killedId = running[0].id;
    assert.equal(killedId, ids[0]);
    // Killed once its first window's checkpoint is on disk (written durably, so whole if present).
    const checkpointPath = join(tmp.dir, 'results', `${killedId}.checkpoint.json`);
    await until(async () => existsSync(checkpointPath), (present) => present);
    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));
    const killedAt = performance.now();
    const checkpoint = JSON.parse(readFileSync(checkpointPath, 'utf8')) as { seek: number; segments: unknown[] };
    assert.ok(checkpoint.seek > 0);

    server = await startServer(tmp.dir);
    const readyMs = performance.now() - killedAt;
    const rerun = await until(() => fetch(`${server.base}/v1/jobs/${killedId}`).then((r) => r.json() as Promise<Job>), (j) => j.status !== 'queued');
    const runningAgainMs = performance.now() - killedAt;
    assert.equal(rerun.runs, 2);
    const done = await until(() => list(server.base), (jobs) => jobs.every(settled), 600_000);
    const recoveredMs = performance.now() - killedAt;
    assert.deepEqual(done.map((j) => j.status), Array(6).fill('succeeded'));
    assert.ok(!existsSync(checkpointPath), 'the checkpoint goes once the job is done');

    // Twins on the same audio: job 0 (killed mid-run, run again) and job 3 (never killed) give the same bytes.
    const result = async (id: string, format: string) => (await fetch(`${server.base}/v1/jobs/${id}/result?format=${format}`)).text();
    for (let i = 0; i < 3; i++) {
      for (const format of ['verbose_json', 'srt', 'tsv']) assert.equal(await result(ids[i], format), await result(ids[i + 3], format), `job ${i} ${format}`);
    }
    server.child.kill('SIGTERM');
    assert.equal(await new Promise((r) => server.child.once('exit', r)), 0);

    // The durable count: one 'succeeded' per job in the log; the killed job started twice and was requeued once.
    const db = new Database(join(tmp.dir, 'jobs.sqlite'), { readonly: true });
    const events = db.prepare('SELECT job_id, run, event FROM job_log ORDER BY rowid').all() as { job_id: string; run: number; event: string }[];
    db.close();
    for (const id of ids) {
      const mine = events.filter((e) => e.job_id === id);
      assert.equal(mine.filter((e) => e.event === 'succeeded').length, 1, id);
      assert.deepEqual(mine.map((e) => `${e.event}@${e.run}`), id === killedId ? ['queued@0', 'started@1', 'requeued:restart@1', 'started@2', 'succeeded@2'] : ['queued@0', 'started@1', 'succeeded@1'], id);
    }
    console.log(`durability: restart to listening ${readyMs.toFixed(0)} ms after the kill; killed job running again after ${runningAgainMs.toFixed(0)} ms; all 6 done ${(recoveredMs / 1000).toFixed(1)} s after the kill; the killed job continued (run 2) from its checkpoint at ${(checkpoint.seek / 100).toFixed(2)} s (${checkpoint.segments.length} segments)`);
  } finally {
    server.child.kill('SIGKILL');
    tmp.cleanup();
  }
});
