/** `moxing transcribe -` as a user pipes audio into it: the real process reads standard input. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';

const SHARED = resolve(process.cwd(), '../shared');
const MODEL = join(SHARED, 'models/whisper-tiny-random');
const CLIP = join(SHARED, 'audio/dev/single/en_000.wav');
const dir = mkdtempSync(join(tmpdir(), 'moxing-transcribe-stdin-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const offline = { MOXING_OFFLINE: '1', MOXING_CACHE: join(dir, 'cache') };

test('transcribe - reads standard input (the real process), and gives what the file gives', async () => {
  const args = ['-m', MODEL, '-f', 'txt', '--no-verbose', '--temperature-increment-on-fallback', '0'];
  const piped = spawnSync(process.execPath, ['bin/moxing.js', 'transcribe', '-', '-o', join(dir, 'stdin'), ...args], { input: readFileSync(CLIP), env: { ...process.env, ...offline }, encoding: 'utf8' });
  assert.equal(piped.status, 0, piped.stderr);
  const fromFile = await runMoxingInProcess(['transcribe', CLIP, '-o', join(dir, 'file'), ...args], offline);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(readFileSync(join(dir, 'stdin', 'stdin.txt'), 'utf8'), readFileSync(join(dir, 'file', 'en_000.txt'), 'utf8'));
});
