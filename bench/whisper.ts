/**
 * `npm run bench:whisper`: moxing (sequential and batched with VAD, fp32 and q8) against transformers.js on the same ONNX
 * files and the same audio, with equal work forced (see whisper-runner.ts), on two models: the base-sized
 * random model (d512, 6+6 layers) and the tiny fixture (where per-token overhead dominates). Then the
 * flat-memory check: peak RSS of the batched pipeline on a long input against a 10-minute one.
 * Options: --seconds 600 --tokens 32 --repeats 1 --batch 8 --models base,tiny --memory-seconds 7200
 * --memory-tokens 2 (0 seconds skips the memory check) --threads N (intra-op threads of both libraries;
 * default: each library's own, all cores).
 * --runners moxing,moxing-batched,moxing-q8-sequential,moxing-q8: only these ONNX runners (ratios are then against the first one kept);
 * moxing-batched-unfused and moxing-q8-unfused (both graphs as exported: no encoder attention fusion, no decoder cache
 * rewrite) run only when named here.
 * Peers, each optional (skipped with a one-line reason): whisper.cpp's whisper-cli from $WHISPER_CPP_DIR on the
 * same weights written as ggml f16 and q8_0 (bench/whisper-cpp.ts); sherpa-onnx-node's VAD + offline Whisper on the
 * same weights written in sherpa-onnx's export layout (bench/sherpa-onnx.ts). --peers whisper.cpp,sherpa-onnx: which
 * peers to run (default both; `none` for neither).
 * --profile: instead, where one token of the sequential loop goes, per phase, and the decoder step against
 * its bytes / memory bandwidth (bench/whisper-loop-profile.ts), fp32 and q8, median of --rounds (3); with
 * --as-exported, each also with the graphs loaded as exported (no load-time rewrites), and with --exact, each also
 * with only the rewrites that change no value (`graphRewrites: 'exact'`), for a before/after in one run.
 */
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ensureWhisperModel, BASE_WHISPER, BENCH_MODELS_DIR } from '../test/models/index.js';
import { ensureQ8, mb, printTable, runChild, workDir, type RunnerReport } from './lib.js';
import { speechWav } from './speech-audio.js';
import { whisperCli, whisperCppRunner } from './whisper-cpp.js';
import { sherpaRunner, sherpaSkipReason } from './sherpa-onnx.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    tokens: { type: 'string', default: '32' },
    repeats: { type: 'string', default: '1' },
    batch: { type: 'string', default: '8' },
    models: { type: 'string', default: 'base,tiny' },
    'memory-seconds': { type: 'string', default: '7200' },
    'memory-tokens': { type: 'string', default: '2' },
    threads: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'as-exported': { type: 'boolean', default: false },
    exact: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    runners: { type: 'string' },
    peers: { type: 'string', default: 'whisper.cpp,sherpa-onnx' },
  },
});
const seconds = Number(values.seconds);
const SHARED_TINY = fileURLToPath(new URL('../../shared/models/whisper-tiny-random', import.meta.url));

/** A writable copy of the read-only fixture, so q8 files can sit next to it. */
function tinyCopy(): string {
  const dir = join(workDir('models'), 'whisper-tiny-random');
  if (!existsSync(join(dir, 'config.json'))) cpSync(SHARED_TINY, dir, { recursive: true, filter: (src) => !src.includes('oracle') });
  return dir;
}

const RUNNER_NAMES: Record<string, string> = {
  'transformers.js': 'transformers.js (5 s stride)',
  'transformers.js-stride0': 'transformers.js (no stride)',
  moxing: 'moxing sequential',
  'moxing-batched': 'moxing batched+VAD',
  'moxing-q8-sequential': 'moxing q8 sequential',
  'moxing-q8': 'moxing q8 batched+VAD',
  'moxing-batched-unfused': 'moxing batched+VAD, as exported',
  'moxing-q8-unfused': 'moxing q8 batched+VAD, as exported',
  'whisper.cpp-f16': 'whisper.cpp whisper-cli f16',
  'whisper.cpp-q8_0': 'whisper.cpp whisper-cli q8_0',
  'sherpa-onnx-fp32': 'sherpa-onnx VAD + Whisper fp32',
  'sherpa-onnx-int8': 'sherpa-onnx VAD + Whisper int8',
};

const wav = speechWav(seconds);
const env = values.threads ? { BENCH_THREADS: values.threads } : {};
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`audio: ${seconds} s of espeak-ng speech; ${values.tokens} tokens per window; batch ${values.batch}; min of ${values.repeats} repeat(s); threads ${values.threads ?? 'default (all cores)'}; load average ${load()}\n`);

if (values.profile) {
  for (const name of values.models.split(',')) {
    const modelDir = name === 'base' ? await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR }) : name === 'tiny' ? tinyCopy() : name;
    const q8Note = ensureQ8(modelDir);
    for (const variant of q8Note ? ['fp32'] : ['fp32', 'q8']) {
      for (const rewrites of ['', ...(values.exact ? ['exact'] : []), ...(values['as-exported'] ? ['exported'] : [])]) {
        await runChild('bench/whisper-loop-profile.ts', [modelDir, wav, values.rounds, variant, values.threads ?? '', rewrites], {}, true);
      }
    }
    if (q8Note) console.log(q8Note);
  }
  process.exit(0);
}

for (const name of values.models.split(',')) {
  const modelDir = name === 'base' ? await ensureWhisperModel(BASE_WHISPER, { root: BENCH_MODELS_DIR }) : name === 'tiny' ? tinyCopy() : name;
  const q8Note = ensureQ8(modelDir);
  // The peer (first) is transformers.js as its docs call it, with its default 5 s stride; the stride-0 row shows
  // the ratios against the least work transformers.js can be asked to do.
  const named = values.runners?.split(',');
  const q8Runners = q8Note ? [] : ['moxing-q8-sequential', 'moxing-q8'];
  const unfused = named ? ['moxing-batched-unfused', ...(q8Note ? [] : ['moxing-q8-unfused'])].filter((r) => named.includes(r)) : [];
  const runners = ['transformers.js', 'transformers.js-stride0', 'moxing', 'moxing-batched', ...q8Runners, ...unfused].filter((r) => !named || named.includes(r));
  const reports: RunnerReport[] = [];
  for (const runner of runners) {
    reports.push(await runChild('bench/whisper-runner.ts', [runner, modelDir, wav, values.tokens, values.repeats, values.batch], env));
  }
  // Peers on the same weights in their own formats; each row is optional, skipped with a one-line reason.
  const peerNotes: string[] = [];
  const peers = values.peers.split(',');
  const threads = values.threads ? Number(values.threads) : undefined;
  const cli = peers.includes('whisper.cpp') ? whisperCli() : undefined;
  if (cli && 'skip' in cli) peerNotes.push(cli.skip);
  else if (cli) {
    for (const weights of ['f16', 'q8_0'] as const) {
      try {
        reports.push(await whisperCppRunner(cli.cli, modelDir, wav, weights, threads, Number(values.repeats)));
      } catch (error) {
        peerNotes.push(`whisper.cpp ${weights} skipped: ${(error as Error).message.split('\n')[0]}`);
        break;
      }
    }
  }
  if (peers.includes('sherpa-onnx')) {
    const skip = sherpaSkipReason();
    if (skip) peerNotes.push(skip);
    else {
      for (const weights of ['fp32', 'int8'] as const) {
        try {
          reports.push(await sherpaRunner(modelDir, wav, weights, threads, Number(values.repeats)));
        } catch (error) {
          peerNotes.push(`sherpa-onnx ${weights} skipped: ${(error as Error).message.split('\n')[0]}`);
          break;
        }
      }
    }
  }
  const peer = reports[0];
  const fp32Batched = reports.find((r) => r.runner === 'moxing-batched');
  console.log(`model ${name} (${modelDir}); load average ${load()}`);
  const stride0 = reports.find((r) => r.runner === 'transformers.js-stride0');
  const cppF16 = reports.find((r) => r.runner === 'whisper.cpp-f16');
  const cppQ8 = reports.find((r) => r.runner === 'whisper.cpp-q8_0');
  printTable(
    ['runner', 'windows', 'tokens', 'wall', 'RTF', 'tokens/s', 'peak RSS', `vs ${RUNNER_NAMES[peer.runner] ?? peer.runner}`, ...(stride0 ? ['vs stride 0'] : []), ...(cppF16 ? ['vs whisper.cpp f16'] : []), ...(cppQ8 ? ['vs whisper.cpp q8_0'] : [])],
    reports.map((r) => [
      RUNNER_NAMES[r.runner] ?? r.runner,
      String(r.extra.windows),
      String(r.extra.tokens),
      `${(r.wallMs / 1000).toFixed(2)} s`,
      (r.wallMs / 1000 / seconds).toFixed(4),
      (Number(r.extra.tokens) / (r.wallMs / 1000)).toFixed(1),
      Number.isFinite(r.peakRssBytes) ? mb(r.peakRssBytes) : '-',
      `${(peer.wallMs / r.wallMs).toFixed(2)}x`,
      ...(stride0 ? [`${(stride0.wallMs / r.wallMs).toFixed(2)}x`] : []),
      ...(cppF16 ? [`${(cppF16.wallMs / r.wallMs).toFixed(2)}x`] : []),
      ...(cppQ8 ? [`${(cppQ8.wallMs / r.wallMs).toFixed(2)}x`] : []),
    ]),
  );
  for (const note of peerNotes) console.log(note);
  const q8 = reports.find((r) => r.runner === 'moxing-q8');
  if (q8 && fp32Batched) console.log(`q8 vs fp32 (both batched): ${(fp32Batched.wallMs / q8.wallMs).toFixed(2)}x`);
  if (q8Note) console.log(q8Note);
  console.log('');
}

const memorySeconds = Number(values['memory-seconds']);
if (memorySeconds > 0) {
  // Few tokens per window: this measures memory, not speed. The tiny model keeps the 2 h run short.
  const modelDir = tinyCopy();
  const rows: RunnerReport[] = [];
  for (const s of [600, memorySeconds]) {
    const report = await runChild('bench/whisper-runner.ts', ['memory', modelDir, speechWav(s), values['memory-tokens'], '1', values.batch], env);
    rows.push({ ...report, runner: `${s} s` });
  }
  console.log(`flat memory: moxing batched+VAD (streamed file), tiny model, ${values['memory-tokens']} tokens per window`);
  printTable(
    ['input', 'windows', 'wall', 'peak RSS'],
    rows.map((r) => [r.runner, String(r.extra.windows), `${(r.wallMs / 1000).toFixed(1)} s`, mb(r.peakRssBytes)]),
  );
  const ratio = rows[1].peakRssBytes / rows[0].peakRssBytes;
  console.log(`peak RSS ${memorySeconds} s / 600 s: ${ratio.toFixed(3)} (target <= 1.10: ${ratio <= 1.1 ? 'met' : 'MISSED'})`);
}
