/** Generated test signals for the VAD tests: silence, seeded white noise, music-like tones, espeak-ng speech. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudio, SAMPLE_RATE } from '../../src/audio/index.js';
import { concatFloat32 } from '../helpers/arrays.js';

export function silence(seconds: number): Float32Array {
  return new Float32Array(Math.round(seconds * SAMPLE_RATE));
}

/** Uniform white noise in [-amplitude, amplitude] from a seeded LCG (deterministic across runs). */
export function whiteNoise(seconds: number, amplitude: number, seed = 1): Float32Array {
  const out = new Float32Array(Math.round(seconds * SAMPLE_RATE));
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = amplitude * ((s / 2 ** 32) * 2 - 1);
  }
  return out;
}

/** Chords of three sines with harmonics, one chord per half second, with a decaying note envelope. */
export function tones(seconds: number, amplitude = 0.3): Float32Array {
  const out = new Float32Array(Math.round(seconds * SAMPLE_RATE));
  const roots = [220, 261.63, 293.66, 329.63, 349.23, 392, 440];
  const noteSamples = SAMPLE_RATE / 2;
  for (let i = 0; i < out.length; i++) {
    const note = Math.floor(i / noteSamples);
    const t = (i % noteSamples) / SAMPLE_RATE;
    const root = roots[note % roots.length];
    const envelope = Math.exp(-3 * t);
    let v = 0;
    for (const ratio of [1, 1.25, 1.5]) {
      for (let h = 1; h <= 3; h++) v += Math.sin(2 * Math.PI * root * ratio * h * (i / SAMPLE_RATE)) / (h * 3);
    }
    out[i] = (amplitude * envelope * v) / 3;
  }
  return out;
}

/** espeak-ng speaking `text`, decoded to 16 kHz mono. */
export async function espeak(text: string, voice = 'en'): Promise<Float32Array> {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-vad-'));
  try {
    const wav = join(dir, 'speech.wav');
    execFileSync('espeak-ng', ['-v', voice, '-w', wav, text]);
    return await decodeAudio(wav);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


/** Seconds of overlap between two sets of [start, end] intervals (each set non-overlapping). */
export function overlapSeconds(a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>): number {
  let total = 0;
  for (const [s1, e1] of a) for (const [s2, e2] of b) total += Math.max(0, Math.min(e1, e2) - Math.max(s1, s2));
  return total;
}

export function totalSeconds(a: ReadonlyArray<readonly [number, number]>): number {
  return a.reduce((n, [s, e]) => n + e - s, 0);
}

export function concat(...parts: Float32Array[]): Float32Array {
  return concatFloat32(parts);
}
