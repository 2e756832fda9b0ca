/**
 * The CLI abuse suite (issue 10): a few hundred mutated WAV, FLAC and PNG files (fixed seed) through
 * `transcribe`, `vad` and `embed`, in-process. Each run must exit 0 or 1, say why on exactly one stderr line
 * when it fails, never crash the process, and leave no partial output: an input's outputs are all there or none
 * is, and no temporary file remains.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeAudio } from '../../src/audio/index.js';
import { seededRandom, type Random } from '../../src/asr/whisper/search.js';
import { writeWav } from '../audio/wav-writer.js';
import { runMoxingInProcess } from '../helpers/cli-inprocess.js';
import { pngDeclaring } from '../helpers/png.js';
import { models, tempDir, writePicture } from '../vision/fixtures.js';

const SEED = 1204;
/** Cases per command and seed format; about a minute on the 2-core machine in all. */
const CASES = { transcribeWav: 60, transcribeFlac: 30, vadWav: 60, vadFlac: 40, embedPng: 110 } as const;
const MODEL = resolve(process.cwd(), '../shared/models/whisper-tiny-random');
const CLIP = resolve(process.cwd(), '../shared/audio/dev/single/en_000.wav');

const tmp = tempDir('moxing-cli-fuzz-');
after(() => tmp.cleanup());
let wavSeed: Uint8Array;
let flacSeed: Uint8Array;
let pngSeed: Uint8Array;
let visionModel = '';

before(async () => {
  // One second of real speech keeps each decode short.
  const speech = (await decodeAudio(CLIP)).subarray(0, 16000);
  wavSeed = writeWav({ encoding: 's16', channels: 1, sampleRate: 16000 }, Array.from(speech, (x) => Math.round(x * 32767)));
  const wavPath = join(tmp.dir, 'seed.wav');
  writeFileSync(wavPath, wavSeed);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', wavPath, join(tmp.dir, 'seed.flac')]);
  flacSeed = readFileSync(join(tmp.dir, 'seed.flac'));
  pngSeed = readFileSync(await writePicture(join(tmp.dir, 'seed.png'), 5, 48, 40));
  visionModel = models.dinov2();
});

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const int = (random: Random, below: number): number => Math.floor(random() * below);

/** Byte-level damage any file format can suffer. */
function mutateBytes(random: Random, bytes: Uint8Array): { kind: string; bytes: Uint8Array } {
  const out = Uint8Array.from(bytes);
  switch (int(random, 5)) {
    case 0:
      return { kind: 'truncated', bytes: out.subarray(0, int(random, out.length)) };
    case 1: {
      const flips = 1 + int(random, 16);
      for (let i = 0; i < flips; i++) out[int(random, Math.min(out.length, 256))] ^= 1 << int(random, 8);
      return { kind: 'header bit flips', bytes: out };
    }
    case 2: {
      const at = int(random, out.length);
      const garbage = Uint8Array.from({ length: 1 + int(random, 64) }, () => int(random, 256));
      return { kind: 'garbage inserted', bytes: Buffer.concat([out.subarray(0, at), garbage, out.subarray(at)]) };
    }
    case 3:
      return { kind: 'empty', bytes: new Uint8Array(0) };
    default:
      return { kind: 'random bytes', bytes: Uint8Array.from({ length: 16 + int(random, 2000) }, () => int(random, 256)) };
  }
}

/** WAV header fields set to hostile values (sample rate, channels, bits, block align, chunk sizes). */
function mutateWav(random: Random, wav: Uint8Array): { kind: string; bytes: Uint8Array } {
  if (random() < 0.4) return mutateBytes(random, wav);
  const out = Uint8Array.from(wav);
  const view = new DataView(out.buffer);
  const field = pick(random, [
    ['sample rate', 24, 4, [0, 1, 999, 1000, 8000, 384000, 384001, 0xffffffff]],
    ['channels', 22, 2, [0, 1, 2, 64, 65, 0xffff]],
    ['bits per sample', 34, 2, [0, 1, 7, 12, 24, 33, 64, 0xffff]],
    ['block align', 32, 2, [0, 1, 3, 0xffff]],
    ['format code', 20, 2, [0, 2, 3, 0xfffe, 0x1234]],
    ['data size', 40, 4, [0, 1, 0x7ffff000, 0xffffffff, 12345]],
    ['RIFF size', 4, 4, [0, 4, 0xffffffff]],
  ] as const);
  const [name, offset, size, values] = field;
  const value = pick(random, values);
  if (size === 4) view.setUint32(offset, value, true);
  else view.setUint16(offset, value, true);
  return { kind: `${name} ${value}`, bytes: out };
}

/** PNGs with hostile headers: huge declared sizes (pixel bombs), broken data, bad checksums. */
function mutatePng(random: Random, png: Uint8Array): { kind: string; bytes: Uint8Array } {
  if (random() < 0.5) return mutateBytes(random, png);
  const [w, h] = pick(random, [[0, 0], [1, 1], [20000, 20000], [1, 0x7fffffff], [65535, 65535], [3, 3]] as const);
  if (random() < 0.5) return { kind: `declares ${w}x${h}`, bytes: pngDeclaring(w, h) };
  const broken = pngDeclaring(w, h, Buffer.from(Array.from({ length: 40 }, () => int(random, 256))));
  broken[29] ^= 0xff; // the IHDR checksum no longer matches
  return { kind: `declares ${w}x${h}, bad CRC and data`, bytes: broken };
}

interface Outcome {
  readonly command: string;
  readonly kind: string;
  readonly code: number | null;
  readonly stderr: string;
}

/** Why an outcome breaks the CLI's contract, or undefined. */
function judge(outcome: Outcome, outputs: readonly string[], expected: readonly string[]): string | undefined {
  const where = `${outcome.command} (${outcome.kind})`;
  if (outcome.code !== 0 && outcome.code !== 1) return `${where}: exit ${outcome.code}: ${outcome.stderr}`;
  const lines = outcome.stderr.trim().split('\n').filter((l) => l !== '');
  if (outcome.code === 1 && lines.length !== 1) return `${where}: ${lines.length} stderr lines: ${outcome.stderr}`;
  if (/unexpected error/.test(outcome.stderr)) return `${where}: ${outcome.stderr}`;
  if (outputs.some((f) => f.endsWith('.tmp'))) return `${where}: a temporary file is left: ${outputs.join(', ')}`;
  const complete = expected.every((f) => outputs.includes(f));
  if (outputs.length > 0 && !complete) return `${where}: partial outputs ${outputs.join(', ')}`;
  if (outcome.code === 0 && !complete) return `${where}: exit 0 without its outputs`;
  if (outcome.code === 1 && outputs.length > 0) return `${where}: failed but wrote ${outputs.join(', ')}`;
  return undefined;
}

/** What a command printed on stdout: whole JSON on success for vad, nothing at all on a failure. */
function judgeStdout(command: string, kind: string, code: number | null, stdout: string): string | undefined {
  if (code === 1 && stdout !== '') return `${command} (${kind}): failed but printed ${stdout.slice(0, 100)}`;
  if (code === 0 && command === 'vad') {
    try {
      JSON.parse(stdout);
    } catch {
      return `${command} (${kind}): exit 0 with broken JSON: ${stdout.slice(0, 100)}`;
    }
  }
  return undefined;
}

test(`CLI fuzz: ${Object.values(CASES).reduce((a: number, b) => a + b, 0)} mutated files through transcribe, vad and embed`, async () => {
  const random = seededRandom(SEED);
  const failures: string[] = [];
  const exits = new Map<string, number>();
  let n = 0;
  const run = async (command: string, ext: string, kind: string, bytes: Uint8Array, args: (input: string, out: string) => string[], expected: string[]) => {
    const dir = join(tmp.dir, `case-${n++}`);
    const out = join(dir, 'out');
    mkdirSync(dir, { recursive: true });
    const input = join(dir, `clip.${ext}`);
    writeFileSync(input, bytes);
    const result = await runMoxingInProcess(args(input, out), { MOXING_OFFLINE: '1', MOXING_CACHE: join(tmp.dir, 'cache') });
    const key = `${command} exit ${result.code}`;
    exits.set(key, (exits.get(key) ?? 0) + 1);
    const outputs = existsSync(out) ? readdirSync(out, { recursive: true }).map(String) : [];
    const problem = judge({ command, kind, code: result.code, stderr: result.stderr }, outputs, expected) ?? judgeStdout(command, kind, result.code, result.stdout);
    if (problem) failures.push(problem);
  };
  const transcribe = (input: string, out: string) => ['transcribe', input, '-m', MODEL, '-o', out, '-f', 'txt,json', '--no-verbose', '--language', 'en', '--temperature-increment-on-fallback', '0'];
  // vad prints to stdout: its "output" is checked there (whole JSON on success, nothing on failure).
  const vad = (input: string) => ['vad', input, '--json'];
  const embed = (input: string, out: string) => ['embed', input, '-m', visionModel, '-o', join(out, 'vectors.json')];

  const started = Date.now();
  for (let i = 0; i < CASES.transcribeWav; i++) {
    const m = mutateWav(random, wavSeed);
    await run('transcribe', 'wav', m.kind, m.bytes, transcribe, ['clip.txt', 'clip.json']);
  }
  for (let i = 0; i < CASES.transcribeFlac; i++) {
    const m = mutateBytes(random, flacSeed);
    await run('transcribe', 'flac', m.kind, m.bytes, transcribe, ['clip.txt', 'clip.json']);
  }
  for (let i = 0; i < CASES.vadWav; i++) {
    const m = mutateWav(random, wavSeed);
    await run('vad', 'wav', m.kind, m.bytes, vad, []);
  }
  for (let i = 0; i < CASES.vadFlac; i++) {
    const m = mutateBytes(random, flacSeed);
    await run('vad', 'flac', m.kind, m.bytes, vad, []);
  }
  for (let i = 0; i < CASES.embedPng; i++) {
    const m = mutatePng(random, pngSeed);
    await run('embed', 'png', m.kind, m.bytes, embed, ['vectors.json']);
  }
  console.log(`cli fuzz: ${n} runs in ${((Date.now() - started) / 1000).toFixed(1)} s; ${[...exits].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} runs broke the contract`);
  // The mutations must reach both outcomes, or the suite tests less than it claims.
  for (const command of ['transcribe', 'vad', 'embed']) {
    assert.ok((exits.get(`${command} exit 0`) ?? 0) > 0 && (exits.get(`${command} exit 1`) ?? 0) > 0, `${command}: ${JSON.stringify([...exits])}`);
  }
});
