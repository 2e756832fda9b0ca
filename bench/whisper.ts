/**
 * `npm run bench:whisper`: moxing against transformers.js on the same ONNX files and the same audio, with
 * equal work forced (see whisper-runner.ts). Prints wall time, real-time factor, tokens/s, peak RSS and the
 * ratio to transformers.js. Options: --seconds 600 --tokens 32 --repeats 1 --model base|tiny|<folder>.
 */
import { parseArgs } from 'node:util';
import { ensureWhisperModel, BASE_WHISPER, BENCH_MODELS_DIR } from '../test/models/index.js';
import { mb, printTable, runChild, type RunnerReport } from './lib.js';
import { speechWav } from './speech-audio.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    tokens: { type: 'string', default: '32' },
    repeats: { type: 'string', default: '1' },
    model: { type: 'string', default: 'base' },
  },
});
const seconds = Number(values.seconds);
const SHARED_TINY = new URL('../../shared/models/whisper-tiny-random', import.meta.url).pathname;
const modelDir =
  values.model === 'base' ? await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR }) : values.model === 'tiny' ? SHARED_TINY : values.model;
const wav = speechWav(seconds);
console.log(`audio: ${seconds} s of espeak-ng speech; model: ${modelDir}; ${values.tokens} tokens per 30 s window; min of ${values.repeats} repeat(s)\n`);

const reports: RunnerReport[] = [];
for (const runner of ['transformers.js', 'moxing']) {
  reports.push(await runChild('bench/whisper-runner.ts', [runner, modelDir, wav, values.tokens, values.repeats]));
}
const peer = reports[0];
printTable(
  ['runner', 'wall', 'RTF', 'tokens/s', 'peak RSS', 'speed vs transformers.js'],
  reports.map((r) => [
    r.runner,
    `${(r.wallMs / 1000).toFixed(2)} s`,
    (r.wallMs / 1000 / seconds).toFixed(4),
    (Number(r.extra.tokens) / (r.wallMs / 1000)).toFixed(1),
    mb(r.peakRssBytes),
    `${(peer.wallMs / r.wallMs).toFixed(2)}x`,
  ]),
);
