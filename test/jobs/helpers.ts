/** What the job tests share: multipart bodies, polling a job until it settles, the fixture model and clips. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TERSE_WHISPER, ensureWhisperModelSync } from '../models/index.js';

export const SHARED = resolve(process.cwd(), '../shared');
/** The tiny Whisper that ends its windows' text early (jobs test what surrounds decoding, not its fidelity). */
export const MODEL = ensureWhisperModelSync(TERSE_WHISPER);
export const SHORT_CLIP = join(SHARED, 'audio/dev/single/en_000.wav');
export const LONG_CLIPS = ['en_long_00.wav', 'es_long_01.wav', 'de_long_02.wav'].map((f) => join(SHARED, 'audio/dev/long', f));
/** Greedy at T = 0 only: deterministic, so two runs give the same bytes. */
export const GREEDY = { temperature: '0', temperature_inc: '0' };

/** A multipart/form-data body (as a client sends it) and its content type. */
export async function form(fields: Record<string, string | string[]>, audio?: { path: string } | { bytes: Buffer }): Promise<{ body: Buffer; type: string }> {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) data.append(name, v);
  if (audio) data.append('file', new Blob(['path' in audio ? readFileSync(audio.path) : audio.bytes]), 'audio.wav');
  const request = new Request('http://x/', { method: 'POST', body: data });
  return { body: Buffer.from(await request.arrayBuffer()), type: request.headers.get('content-type')! };
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Calls `read` until `done` holds of its answer (every 100 ms, at most `limitMs`). */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, limitMs = 120_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${JSON.stringify(value).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const settled = (job: { status: string }): boolean => ['succeeded', 'failed', 'cancelled'].includes(job.status);
