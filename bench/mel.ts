/**
 * How long does Whisper's log-mel front end take for one 30 s window on one core? (target: <= 50 ms)
 * Run: npx tsx bench/mel.ts [repeats]. Reports the minimum over repeats: the other runs measure the machine's
 * noise (GC, other processes), not the code. Both wall time and this process's CPU time are given: on a shared,
 * overloaded machine the wall time counts the time other processes held our core, the CPU time does not.
 * Also times the long-form path (10 min with N_SAMPLES padding).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeAudio, logMelSpectrogram, N_SAMPLES, padOrTrim, SAMPLE_RATE } from '../src/audio/index.js';

const repeats = Number(process.argv[2] ?? 30);
const wav = fileURLToPath(new URL('../../shared/whisper/mel-reference/jfk.wav', import.meta.url));
readFileSync(wav); // fail early with a plain ENOENT if ../shared is absent
const window = padOrTrim(await decodeAudio(wav));

/** Minimum wall and CPU milliseconds of `run` over `times` runs. */
function minMs(run: () => void, times: number): { wall: number; cpu: number } {
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < times; i++) {
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    run();
    const used = process.cpuUsage(cpuStart);
    wall = Math.min(wall, Number(process.hrtime.bigint() - start) / 1e6);
    cpu = Math.min(cpu, (used.user + used.system) / 1e3);
  }
  return { wall, cpu };
}

const show = ({ wall, cpu }: { wall: number; cpu: number }, per = 1): string =>
  `${(wall / per).toFixed(2)} ms wall, ${(cpu / per).toFixed(2)} ms CPU`;

for (const nMels of [80, 128] as const) {
  minMs(() => logMelSpectrogram(window, nMels), 5); // warm-up: let the JIT compile the hot loops
  const ms = minMs(() => logMelSpectrogram(window, nMels), repeats);
  console.log(`log-mel ${nMels} bins, one 30 s window: ${show(ms)} (min of ${repeats})`);
}

// Long form: 10 minutes of audio, transformed once with whisper's N_SAMPLES padding.
const long = new Float32Array(600 * SAMPLE_RATE);
for (let i = 0; i < long.length; i += window.length) long.set(window.subarray(0, Math.min(window.length, long.length - i)), i);
const longMs = minMs(() => logMelSpectrogram(long, 80, { padding: N_SAMPLES }), 3);
console.log(`log-mel 80 bins, 10 min + 30 s padding: ${show(longMs)}; per 30 s: ${show(longMs, 21)}`);
