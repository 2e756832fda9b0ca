/**
 * Where a chat decode step's time goes: ORT's own profile of the q4 decoder (as OnnxChatModel loads it: accuracy
 * level 4 and the load-time rewrites) over some greedy decode steps after a prompt, summed per operator type,
 * beside the JavaScript side of the step (the wall time of a step less its session.run).
 *
 * Usage: tsx bench/chat-profile.ts [--threads 1] [--steps 32] [--prompt 128] [--rewrites '<GraphRewrites JSON>']
 * [--model <another q4 file of the same model>] [--no-profile] (on bench:chat's --full model, generated once into
 * bench/.work/models). The rewritten copy is kept in
 * bench/.work/profile/ between runs of the same rewrites.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, linkSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { createHash } from 'node:crypto';
import { ensureLlmModel, BENCH_MODELS_DIR } from '../test/models/index.js';
import { rewriteDecoderGraph, type GraphRewrites } from '../src/chat/graph-rewrite.js';
import { rewriteGraphNodes } from '../src/runtime/onnx/stream-rewrite.js';
import { OnnxDecoder } from '../src/chat/onnx-model.js';
import { chatGraphRewrites } from '../src/chat/onnx-chat.js';
import { ChatTokenizer } from '../src/chat/index.js';
import { qwenShapedSpec, workDir } from './lib.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    steps: { type: 'string', default: '32' },
    prompt: { type: 'string', default: '128' },
    rewrites: { type: 'string' },
    model: { type: 'string' },
    spinning: { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
  },
});
const vocabSize = 151_936;
const spec = qwenShapedSpec(24, vocabSize);
const dir = await ensureLlmModel(spec, BENCH_MODELS_DIR);
const q4 = values.model ?? join(dir, 'onnx/model_q4.onnx');
const contextLength = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { max_position_embeddings: number }).max_position_embeddings;
const rewrites: GraphRewrites = values.rewrites ? (JSON.parse(values.rewrites) as GraphRewrites) : { accuracyLevel: 4, ...chatGraphRewrites({ heads: spec.heads, kvHeads: spec.kvHeads, contextLength }) };

// The rewritten copy, made once per rewrite set (hard links to nothing: the q4 file has no external data).
const key = createHash('sha256').update(JSON.stringify([rewrites, q4])).digest('hex').slice(0, 10);
const folder = workDir('profile', key);
const copy = join(folder, 'model.onnx');
if (!existsSync(copy)) {
  mkdirSync(folder, { recursive: true });
  const wrote = rewriteGraphNodes(q4, copy, (graph) => rewriteDecoderGraph(graph, rewrites), { externalData: { file: `${copy}.moxing_data` } });
  if (!wrote) linkSync(q4, copy);
}

const profileDir = workDir('profile', 'traces');
mkdirSync(profileDir, { recursive: true });
const profiling = !values['no-profile'];
const spin = values.spinning ? '1' : '0';
const session = await ort.InferenceSession.create(copy, {
  executionProviders: ['cpu'],
  intraOpNumThreads: Number(values.threads),
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  enableProfiling: profiling,
  profileFilePrefix: join(profileDir, `decode-${key}-t${values.threads}`),
  extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
});

// session.run's own wall time per call, to split a step into ORT and JavaScript.
const runTimes: number[] = [];
const run = session.run.bind(session);
(session as { run: typeof session.run }).run = (async (...args: Parameters<typeof session.run>) => {
  const started = performance.now();
  const out = await run(...args);
  runTimes.push(performance.now() - started);
  return out;
}) as typeof session.run;

const tokenizer = await ChatTokenizer.load(dir);
let text = 'The quick brown fox jumps over the lazy dog. '.repeat(64);
while (tokenizer.encode(text).length > Number(values.prompt)) text = text.slice(0, Math.floor(text.length * 0.95));
const decoder = new OnnxDecoder(session, { layers: spec.layers, kvHeads: spec.kvHeads, headDim: spec.hidden / spec.heads, vocabSize, maxPositions: contextLength }, 0);
const state = decoder.start([tokenizer.encode(text)]);
const argmax = (x: Float32Array) => {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
};
let logits = await state.prefill();
const steps = Number(values.steps);
const stepTimes: number[] = [];
const tokens: number[] = [];
// CPU time of the whole process over the decode steps: on a shared machine, less noisy than wall time at 1 thread.
const cpuBefore = process.cpuUsage();
for (let s = 0; s < steps; s++) {
  const started = performance.now();
  const token = argmax(logits);
  tokens.push(token);
  logits = await state.feed([[token]]);
  stepTimes.push(performance.now() - started);
}
const cpu = process.cpuUsage(cpuBefore);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const decodeRuns = runTimes.slice(1);
console.log(`threads ${values.threads}, ${steps} decode steps after a ${state.tokens[0].length - steps}-token prompt`);
console.log(`step median ${median(stepTimes).toFixed(2)} ms (${(1000 / median(stepTimes)).toFixed(1)} tok/s), session.run median ${median(decodeRuns).toFixed(2)} ms, JS side ${(median(stepTimes) - median(decodeRuns)).toFixed(2)} ms, CPU ${((cpu.user + cpu.system) / 1000 / steps).toFixed(2)} ms a step`);
console.log(`tokens ${tokens.slice(0, 12).join(' ')}`);

if (profiling) {
  const file = session.endProfiling() as unknown as string | undefined;
  const path = typeof file === 'string' && existsSync(file) ? file : join(profileDir, readdirSync(profileDir).filter((f) => f.startsWith(`decode-${key}-t${values.threads}`)).sort().at(-1) ?? '');
  interface Event {
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string };
  }
  const events = JSON.parse(readFileSync(path, 'utf8')) as Event[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  // The prefill is the first run; the decode steps are the rest.
  const decode = runs.slice(1);
  const inDecode = (e: Event) => decode.some((r) => e.ts >= r.ts && e.ts < r.ts + r.dur);
  const perOp = new Map<string, { us: number; count: number }>();
  let kernelUs = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inDecode(e)) continue;
    const op = e.args?.op_name ?? '?';
    const entry = perOp.get(op) ?? { us: 0, count: 0 };
    entry.us += e.dur;
    entry.count++;
    perOp.set(op, entry);
    kernelUs += e.dur;
  }
  const runUs = decode.reduce((a, r) => a + r.dur, 0);
  const n = decode.length;
  console.log(`\nORT model_run per step ${(runUs / n / 1000).toFixed(2)} ms; kernels ${(kernelUs / n / 1000).toFixed(2)} ms; nodes per step ${[...perOp.values()].reduce((a, e) => a + e.count, 0) / n}`);
  console.log('op type | ms per step | nodes per step | share of kernel time');
  for (const [op, e] of [...perOp].sort((a, b) => b[1].us - a[1].us)) console.log(`${op} | ${(e.us / n / 1000).toFixed(3)} | ${e.count / n} | ${((100 * e.us) / kernelUs).toFixed(1)}%`);
  // The single largest nodes (the LM head), for a per-node view.
  const perNode = new Map<string, number>();
  for (const e of events) if (e.cat === 'Node' && e.name.endsWith('_kernel_time') && inDecode(e)) perNode.set(e.name, (perNode.get(e.name) ?? 0) + e.dur);
  console.log('\nlargest nodes (ms per step):');
  for (const [name, us] of [...perNode].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${name.replace(/_kernel_time$/, '')} ${(us / n / 1000).toFixed(3)}`);
  if (process.env.KEEP_TRACE !== '1') rmSync(path);
}
await session.release();
