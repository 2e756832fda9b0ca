/**
 * One engine row of `npm run bench:chat`, in its own process so its peak RSS is its own: prefill and decode
 * tokens/s of one engine on one prepared model, printed as a RunnerReport line (bench/lib.ts).
 * Arguments: <engine> <model folder> <gguf path> <threads> <prompt text> <generated tokens>, engine one of
 * onnx-fp32, onnx-q4-level0, onnx-q4-level4, onnx-q4-level4-unrewritten (graphRewrites: false), llama-q4_0,
 * transformers-q4. bench/chat.ts runs it compiled, on plain node (bench/lib.ts compileScript), and makes the
 * prompt: the process holds what a user's `moxing chat` holds (one tokenizer, the model's), and no loader.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadChatModel } from '../src/chat/load.js';
import type { ChatModel } from '../src/chat/index.js';
import { emitReport, peakRssBytes } from './lib.js';

const [engine, dir, gguf, threadsArg, text, tokensArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const tokens = Number(tokensArg);

const eos = (JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as { eos_token_id: number[] }).eos_token_id;

async function measure(model: ChatModel): Promise<{ prefill: number; decode: number }> {
  const ban = Object.fromEntries(eos.map((id) => [id, -100]));
  await model.generate(text, { maxTokens: 2, temperature: 0, logitBias: ban }); // warm-up
  const result = await model.generate(`${text} `, { maxTokens: tokens, temperature: 0, logitBias: ban });
  if (result.tokens.length !== tokens) throw new Error(`${engine}: ${result.tokens.length} tokens`);
  await model.dispose();
  return { prefill: result.promptTokens / (result.timings.prefillMs / 1000), decode: (tokens - 1) / (result.timings.decodeMs / 1000) };
}

/** transformers.js on the same q4 file, with its own session options (its default threads). */
async function measureTransformersJs(): Promise<{ prefill: number; decode: number }> {
  const { env, AutoModelForCausalLM, AutoTokenizer } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(dir)}/`;
  const reference = await AutoTokenizer.from_pretrained(basename(dir));
  const model = await AutoModelForCausalLM.from_pretrained(basename(dir), { dtype: 'q4' });
  const inputs = reference(`${text} `);
  const run = async (n: number) => {
    const started = performance.now();
    await model.generate({ ...inputs, max_new_tokens: n, min_new_tokens: n, do_sample: false });
    return performance.now() - started;
  };
  await run(2);
  const first = await run(1);
  const all = await run(tokens);
  await model.dispose();
  const length = (inputs.input_ids as { dims: number[] }).dims[1];
  return { prefill: length / (first / 1000), decode: (tokens - 1) / ((all - first) / 1000) };
}

const runtime = { intraOpThreads: threads };
const engines: Record<string, () => Promise<{ prefill: number; decode: number }>> = {
  'onnx-fp32': async () => measure(await loadChatModel(dir, { runtime })),
  'onnx-q4-level0': async () => measure(await loadChatModel(dir, { variant: 'q4', q4AccuracyLevel: false, runtime })),
  'onnx-q4-level4': async () => measure(await loadChatModel(dir, { variant: 'q4', runtime })),
  'onnx-q4-level4-unrewritten': async () => measure(await loadChatModel(dir, { variant: 'q4', graphRewrites: false, runtime })),
  'llama-q4_0': async () => measure(await loadChatModel(gguf, { threads })),
  'transformers-q4': measureTransformersJs,
};
const run = engines[engine];
if (!run) throw new Error(`unknown engine ${engine}: one of ${Object.keys(engines).join(', ')}`);
// The process before the model: Node, tsx and the engines' libraries (what any row pays before its weights).
const baselineRss = process.memoryUsage().rss;
const started = performance.now();
const { prefill, decode } = await run();
emitReport({ runner: engine, wallMs: performance.now() - started, peakRssBytes: peakRssBytes(), extra: { prefill, decode, baselineRss } });
