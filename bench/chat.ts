/**
 * `npm run bench:chat`: prefill and decode tokens/s and peak RSS of the chat engines in one run, on one random
 * llama-shaped model with Qwen2.5-0.5B's width, heads and MLP (hidden 896, GQA 14/2, intermediate 4864):
 * moxing ONNX (fp32; q4 at accuracy level 0 and 4, and level 4 without the load-time graph rewrites of
 * src/chat/graph-rewrite.ts) at 1 and 2 intra-op threads, transformers.js on the same q4
 * file, and moxing's llama.cpp engine on a Q4_0 GGUF of the same weights at 1 and 2 threads (the measurement
 * behind DEFAULT_LLAMA_THREADS). Every run generates exactly --tokens tokens (end-of-sequence banned). Each row
 * runs in its own process (bench/chat-runner.ts, compiled and run on plain node as an installed moxing runs), so
 * its peak RSS is its own; it is shown against the bytes of the weight file that row reads, and beside the
 * process's RSS before it loads the model (Node and the engine's libraries).
 * Then bench/chat-vlm.ts: a SmolVLM-256M-shaped model's time to first token with one image.
 *
 * Options: --layers 4 --vocab <learned> --prompt 128 --tokens 48 (--repeats 3 for the VLM row);
 * --full: Qwen2.5-0.5B's whole shape (24 layers, vocabulary 151,936; about 2 GB of fp32 weights, generated once
 * into bench/.work/models); --only <a>,<b> runs only the rows whose name contains one of them (no VLM row), and
 * --threads 1,2 only those at these thread counts. Each row prints as it ends.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ensureLlmModel, BENCH_MODELS_DIR } from '../test/models/index.js';
import { ensureLlmGguf } from '../test/models/gguf.js';
import { ChatTokenizer } from '../src/chat/index.js';
import { quantizeFile } from '../src/quantize/index.js';
import { compileScript } from './compile.js';
import { mb, printTable, qwenShapedSpec, runChild } from './lib.js';

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '4' },
    vocab: { type: 'string' },
    full: { type: 'boolean', default: false },
    prompt: { type: 'string', default: '128' },
    tokens: { type: 'string', default: '48' },
    repeats: { type: 'string', default: '3' },
    only: { type: 'string' },
    threads: { type: 'string' },
  },
});
const layers = values.full ? 24 : Number(values.layers);
const vocab = values.full ? 151_936 : values.vocab === undefined ? undefined : Number(values.vocab);
const spec = qwenShapedSpec(layers, vocab);

const dir = await ensureLlmModel(spec, BENCH_MODELS_DIR);
const fp32 = join(dir, 'onnx/model.onnx');
const q4 = join(dir, 'onnx/model_q4.onnx');
if (!existsSync(q4)) quantizeFile(fp32, q4, { to: 'q4', accuracyLevel: 0 });
const gguf = ensureLlmGguf(spec, 'Q4_0', BENCH_MODELS_DIR);

interface Row {
  name: string;
  engine: string;
  threads: number;
  weights: string;
}
const rows: Row[] = [];
for (const threads of [1, 2]) {
  const suffix = `, ${threads} thread${threads > 1 ? 's' : ''}`;
  rows.push({ name: `moxing ONNX fp32${suffix}`, engine: 'onnx-fp32', threads, weights: fp32 });
  rows.push({ name: `moxing ONNX q4, accuracy level 0${suffix}`, engine: 'onnx-q4-level0', threads, weights: q4 });
  rows.push({ name: `moxing ONNX q4, accuracy level 4${suffix}`, engine: 'onnx-q4-level4', threads, weights: q4 });
  rows.push({ name: `moxing ONNX q4, accuracy level 4, graph unrewritten${suffix}`, engine: 'onnx-q4-level4-unrewritten', threads, weights: q4 });
}
for (const threads of [1, 2]) rows.push({ name: `moxing llama.cpp Q4_0, ${threads} thread${threads > 1 ? 's' : ''}`, engine: 'llama-q4_0', threads, weights: gguf });
rows.push({ name: 'transformers.js q4 (same file)', engine: 'transformers-q4', threads: 0, weights: q4 });

// Every engine reads the same vocabulary (the GGUF carries the ONNX model's tokenizer): the same prompt for all.
const tokenizer = await ChatTokenizer.load(dir);
let text = 'The quick brown fox jumps over the lazy dog. '.repeat(64);
while (tokenizer.encode(text).length > Number(values.prompt)) text = text.slice(0, Math.floor(text.length * 0.95));

// The rows run compiled, on plain node: their peak RSS is what a user's process holds (no tsx loader).
const runner = compileScript(join(import.meta.dirname, 'chat-runner.ts'));
process.on('exit', runner.cleanup);
const table: string[][] = [];
const only = values.only?.split(',');
const threadCounts = values.threads?.split(',').map(Number);
const chosen = rows.filter((r) => (only === undefined || only.some((part) => r.name.includes(part))) && (threadCounts === undefined || threadCounts.includes(r.threads)));
for (const row of chosen) {
  const report = await runChild(runner.path, [row.engine, dir, gguf, String(row.threads), text, values.tokens], {}, false, []);
  const weightBytes = statSync(row.weights).size;
  const { prefill, decode, baselineRss } = report.extra as { prefill: number; decode: number; baselineRss: number };
  table.push([row.name, prefill.toFixed(0), decode.toFixed(1), mb(report.peakRssBytes), mb(baselineRss), mb(weightBytes), (report.peakRssBytes / weightBytes).toFixed(2)]);
  console.log(table[table.length - 1].join(' | '));
}

const vocabulary = vocab === undefined ? 'a small vocabulary' : `vocabulary ${vocab}`;
console.log(`\nchat engines: hidden 896, ${layers} layers, GQA 14/2, intermediate 4864, ${vocabulary}, prompt ≈${values.prompt} tokens, ${values.tokens} generated; load average ${loadavg()[0].toFixed(1)}\n`);
printTable(['engine', 'prefill tok/s', 'decode tok/s', 'peak RSS', 'RSS before load', 'weight file', 'peak RSS / weights'], table);

// The vision-language row: time to first token with one image (its own file, also runnable alone).
if (values.only === undefined && values.threads === undefined) await import('./chat-vlm.js');
