/**
 * `npm run bench:serve`: load on `moxing serve`'s POST /v1/audio/transcriptions, as the clients of a speech
 * server make it. A real `moxing serve` child process on loopback serves the fixture Whisper; 1, 4 and 16
 * clients (and one level past the server's limit) each send a clip, wait for the answer and send again, for
 * `--seconds` per level (60 by default). Reported per level: requests/s, audio seconds per second, p50/p95/p99
 * latency, errors (429s apart), the slowest GET /health during the load, and the server's peak RSS.
 *
 * Two servers are measured in the same run:
 * - moxing: cross-request batching on (concurrent requests' windows decoded in shared batches), up to
 *   `--limit` requests at once;
 * - peer: one request at a time, as whisper.cpp's server does (one global mutex), the rest queued, batching off;
 * and the ratio of their audio seconds per second.
 *
 * Usage: npm run bench:serve -- [--seconds 60] [--clients 1,4,16,32] [--limit 16] [--clip FILE] [--model DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeAudio } from '../src/audio/index.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
};
const SHARED = resolve(process.cwd(), '../shared');
const SECONDS = Number(arg('seconds', '60'));
const LIMIT = Number(arg('limit', '16'));
const CLIENTS = arg('clients', `1,4,16,${LIMIT * 2}`).split(',').map(Number);
const CLIP = arg('clip', join(SHARED, 'audio/dev/single/en_000.wav'));
const MODEL = arg('model', join(SHARED, 'models/whisper-tiny-random'));
/** Plain greedy decoding in English: the comparison is about serving, not the fallback ladder. */
const FIELDS = { model: 'whisper-1', language: 'en', temperature: '0', temperature_inc: '0', response_format: 'json' };

interface Level {
  clients: number;
  seconds: number;
  ok: number;
  busy: number;
  errors: number;
  latencies: number[];
  healthMaxMs: number;
}

interface Mode {
  name: string;
  flags: string[];
}

const MODES: Mode[] = [
  { name: 'moxing (cross-request batching)', flags: ['--max-concurrent-work', String(LIMIT), '--max-queued-work', '0'] },
  { name: 'peer (one at a time, no batching)', flags: ['--no-cross-request-batching', '--max-concurrent-work', '1', '--max-queued-work', String(LIMIT - 1)] },
];

async function startServer(mode: Mode): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['bin/moxing.js', 'serve', '--port', '0', '--no-log', '--model', MODEL, '--preload', '--rate-limit-per-minute', '0', '--handler-timeout-ms', '600000', '--connection-timeout-ms', '600000', ...mode.flags,
    // Jobs are on in every server: their store goes to a scratch folder, not the user's data folder.
    '--data-dir', mkdtempSync(join(tmpdir(), 'moxing-bench-serve-'))], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const base = await new Promise<string>((done, fail) => {
    let text = '';
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = text.match(/serving on (http:\/\/\S+)/);
      if (m) done(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`server exited ${code}: ${text}`)));
  });
  for (;;) {
    const ready = await fetch(`${base}/ready`).catch(() => undefined);
    if (ready?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base };
}

async function runLevel(base: string, clip: Buffer, clients: number): Promise<Level> {
  const level: Level = { clients, seconds: 0, ok: 0, busy: 0, errors: 0, latencies: [], healthMaxMs: 0 };
  const started = performance.now();
  const until = started + SECONDS * 1000;
  let stop = false;
  const health = (async () => {
    while (!stop) {
      const t = performance.now();
      await (await fetch(`${base}/health`)).text();
      level.healthMaxMs = Math.max(level.healthMaxMs, performance.now() - t);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const form = new FormData();
        form.set('file', new Blob([clip]), 'clip.wav');
        for (const [k, v] of Object.entries(FIELDS)) form.set(k, v);
        const t = performance.now();
        const answer = await fetch(`${base}/v1/audio/transcriptions`, { method: 'POST', body: form }).catch(() => undefined);
        await answer?.text();
        if (answer?.status === 200) {
          level.ok++;
          level.latencies.push(performance.now() - t);
        } else if (answer?.status === 429) {
          level.busy++;
          // A refused client backs off as Retry-After asks (1 s), as the openai clients do.
          await new Promise((r) => setTimeout(r, 1000));
        } else level.errors++;
      }
    }),
  );
  stop = true;
  await health;
  level.seconds = (performance.now() - started) / 1000;
  return level;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function peakRss(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/)![1]) * 1024;
}

async function main(): Promise<void> {
  const clip = readFileSync(CLIP);
  const clipSeconds = (await decodeAudio(CLIP)).length / 16000;
  console.log(`bench:serve: ${MODEL.split('/').pop()} on ${clip.length} B / ${clipSeconds.toFixed(2)} s clip; ${SECONDS} s per level; limit ${LIMIT} requests at once`);
  const results: { mode: string; levels: Level[]; rss: number }[] = [];
  for (const mode of MODES) {
    const { child, base } = await startServer(mode);
    const levels: Level[] = [];
    try {
      for (const clients of CLIENTS) levels.push(await runLevel(base, clip, clients));
      results.push({ mode: mode.name, levels, rss: peakRss(child.pid!) });
    } finally {
      child.kill('SIGTERM');
    }
  }
  console.log('\n| server | clients | requests/s | audio s/s | p50 ms | p95 ms | p99 ms | errors | 429s | /health max ms |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const { mode, levels } of results) {
    for (const l of levels) {
      const sorted = [...l.latencies].sort((a, b) => a - b);
      const row = [mode, l.clients, (l.ok / l.seconds).toFixed(2), ((l.ok * clipSeconds) / l.seconds).toFixed(2), percentile(sorted, 50).toFixed(0), percentile(sorted, 95).toFixed(0), percentile(sorted, 99).toFixed(0), l.errors, l.busy, l.healthMaxMs.toFixed(0)];
      console.log(`| ${row.join(' | ')} |`);
    }
  }
  console.log('');
  for (const { mode, rss } of results) console.log(`peak RSS ${mode}: ${(rss / 2 ** 20).toFixed(0)} MiB`);
  const [ours, peer] = results;
  for (let i = 0; i < CLIENTS.length; i++) {
    const a = ours.levels[i];
    const b = peer.levels[i];
    const ratio = a.ok / a.seconds / (b.ok / b.seconds);
    console.log(`${CLIENTS[i]} clients: moxing / peer audio seconds per second = ${ratio.toFixed(2)}x`);
  }
  const failed = results.flatMap((r) => r.levels.filter((l) => l.errors > 0 || (l.clients <= LIMIT && l.busy > 0)).map((l) => `${r.mode} at ${l.clients} clients: ${l.errors} errors, ${l.busy} 429s`));
  if (failed.length > 0) {
    console.error(`bench:serve: failures within the limit: ${failed.join('; ')}`);
    process.exitCode = 1;
  }
}

await main();
