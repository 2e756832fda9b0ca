/**
 * Benchmark speech: English sentences spoken by espeak-ng, resampled to 16 kHz, repeated to the asked length.
 * Cached under bench/.work so repeated runs measure the models, not espeak.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { workDir } from './lib.js';

const SENTENCES = [
  'And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.',
  'The quick brown fox jumps over the lazy dog while the band plays on in the distance.',
  'Speech recognition turns sound into text, one window of thirty seconds after another.',
  'A benchmark that measures nothing real is worse than no benchmark at all.',
  'We choose to go to the moon in this decade and do the other things, not because they are easy, but because they are hard.',
  'Transformers attend to every position at once, which is why their cost grows with the square of the length.',
];

/** Path of a 16 kHz mono 16-bit WAV of exactly `seconds` seconds of espeak-ng speech with short pauses. */
export function speechWav(seconds: number): string {
  const dir = workDir('audio');
  const out = join(dir, `speech-${seconds}s.wav`);
  if (existsSync(out)) return out;
  const base = join(dir, 'sentences-16k.wav');
  if (!existsSync(base)) {
    const text = join(dir, 'sentences.txt');
    writeFileSync(text, SENTENCES.join('\n\n'));
    const raw = join(dir, 'sentences-raw.wav');
    execFileSync('espeak-ng', ['-v', 'en', '-s', '160', '-g', '12', '-f', text, '-w', raw]);
    execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', base]);
  }
  // sox `repeat` then `trim` to the exact length.
  const baseSeconds = Number(execFileSync('soxi', ['-D', base]).toString().trim());
  const repeats = Math.ceil(seconds / baseSeconds);
  execFileSync('sox', [base, out, 'repeat', String(Math.max(0, repeats - 1)), 'trim', '0', String(seconds)]);
  return out;
}
