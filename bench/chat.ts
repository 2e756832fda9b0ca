/**
 * `npm run bench:chat`: prefill and decode tokens/s of the chat engines in one run, on one random llama-shaped
 * model (Qwen2.5-0.5B's width, heads and MLP: hidden 896, GQA 14/2, intermediate 4864; fewer layers and a small
 * vocabulary so the run fits this VM): moxing ONNX (fp32; q4 at accuracy level 0 and 4), transformers.js on the
 * same q4 file, and moxing's llama.cpp engine on a Q4_0 GGUF of the same weights at 1 and 2 threads (the
 * measurement behind DEFAULT_LLAMA_THREADS); ONNX Runtime at 1 and 2 intra-op threads too. Every run generates exactly --tokens tokens (end-of-sequence banned).
 * Then bench/chat-vlm.ts: a SmolVLM-256M-shaped model's time to first token with one image.
 * Options: --layers 4 --prompt 128 --tokens 48 (--repeats 3 for the VLM row).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ensureLlmModel, BENCH_MODELS_DIR, type LlmSpec } from '../test/models/index.js';
import { ensureLlmGguf } from '../test/models/gguf.js';
import { quantizeFile } from '../src/quantize/index.js';
import { loadChatModel } from '../src/chat/load.js';
import { ChatTokenizer, type ChatModel } from '../src/chat/index.js';
import { printTable } from './lib.js';

const { values } = parseArgs({ options: { layers: { type: 'string', default: '4' }, prompt: { type: 'string', default: '128' }, tokens: { type: 'string', default: '48' }, repeats: { type: 'string', default: '3' } } });
const tokens = Number(values.tokens);
const promptTokens = Number(values.prompt);
const spec: LlmSpec = { name: 'qwen-0.5b-shaped', hidden: 896, layers: Number(values.layers), heads: 14, kvHeads: 2, intermediate: 4864, merges: 200, tied: true, seed: 5, ropeTheta: 1_000_000 };

const dir = await ensureLlmModel(spec, BENCH_MODELS_DIR);
if (!existsSync(join(dir, 'onnx/model_q4.onnx'))) quantizeFile(join(dir, 'onnx/model.onnx'), join(dir, 'onnx/model_q4.onnx'), { to: 'q4', accuracyLevel: 0 });
const gguf = ensureLlmGguf(spec, 'Q4_0', BENCH_MODELS_DIR);

interface Row {
  name: string;
  prefill: number;
  decode: number;
}
const rows: Row[] = [];

// Every engine reads the same vocabulary (the GGUF carries the ONNX model's tokenizer): trim the prompt once.
const tokenizer = await ChatTokenizer.load(dir);
let text = 'The quick brown fox jumps over the lazy dog. '.repeat(64);
while (tokenizer.encode(text).length > promptTokens) text = text.slice(0, Math.floor(text.length * 0.95));

async function measure(name: string, model: ChatModel, eos: readonly number[]): Promise<void> {
  const ban = Object.fromEntries(eos.map((id) => [id, -100]));
  await model.generate(text, { maxTokens: 2, temperature: 0, logitBias: ban }); // warm-up
  const result = await model.generate(`${text} `, { maxTokens: tokens, temperature: 0, logitBias: ban });
  if (result.tokens.length !== tokens) throw new Error(`${name}: ${result.tokens.length} tokens`);
  rows.push({ name, prefill: result.promptTokens / (result.timings.prefillMs / 1000), decode: (tokens - 1) / (result.timings.decodeMs / 1000) });
  await model.dispose();
}

const onnxEos = [spec.merges + 256, spec.merges + 258];
for (const threads of [1, 2]) {
  const runtime = { intraOpThreads: threads };
  const suffix = `, ${threads} thread${threads > 1 ? 's' : ''}`;
  await measure(`moxing ONNX fp32${suffix}`, await loadChatModel(dir, { runtime }), onnxEos);
  await measure(`moxing ONNX q4, accuracy level 0${suffix}`, await loadChatModel(dir, { variant: 'q4', q4AccuracyLevel: false, runtime }), onnxEos);
  await measure(`moxing ONNX q4, accuracy level 4${suffix}`, await loadChatModel(dir, { variant: 'q4', runtime }), onnxEos);
}
for (const threads of [1, 2]) await measure(`moxing llama.cpp Q4_0, ${threads} thread${threads > 1 ? 's' : ''}`, await loadChatModel(gguf, { threads }), onnxEos);

// transformers.js on the same q4 file (its q4 sessions as it makes them).
{
  const { env, AutoModelForCausalLM, AutoTokenizer } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(dir)}/`;
  const tokenizer = await AutoTokenizer.from_pretrained(basename(dir));
  // transformers.js's own session options (its default threads).
  const model = await AutoModelForCausalLM.from_pretrained(basename(dir), { dtype: 'q4' });
  const inputs = tokenizer(`${text} `);
  const run = async (n: number) => {
    const started = performance.now();
    await model.generate({ ...inputs, max_new_tokens: n, min_new_tokens: n, do_sample: false });
    return performance.now() - started;
  };
  await run(2);
  const first = await run(1);
  const all = await run(tokens);
  const length = (inputs.input_ids as { dims: number[] }).dims[1];
  rows.push({ name: 'transformers.js q4 (same file)', prefill: length / (first / 1000), decode: (tokens - 1) / ((all - first) / 1000) });
  await model.dispose();
}

console.log(`\nchat engines: hidden 896, ${spec.layers} layers, GQA 14/2, intermediate 4864, prompt ≈${promptTokens} tokens, ${tokens} generated; load average ${loadavg()[0].toFixed(1)}\n`);
printTable(['engine', 'prefill tok/s', 'decode tok/s'], rows.map((r) => [r.name, r.prefill.toFixed(0), r.decode.toFixed(1)]));

// The vision-language row: time to first token with one image (its own file, also runnable alone).
await import('./chat-vlm.js');
