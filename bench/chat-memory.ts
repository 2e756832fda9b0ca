/**
 * `npx tsx bench/chat-memory.ts <model folder>`: where a chat model's resident memory goes. One process (compiled,
 * on plain node, as `npm run bench:chat` runs its rows) loads the model, warms up and generates like the bench's
 * rows, and prints after each phase its RSS (anonymous and file-backed), the resident bytes per kind of mapping
 * (the mapped weights of a rewritten model, malloc's heap, anonymous maps, libraries) and V8's heap spaces.
 * Options: --variant q4 --level 4 (or "file": the file's own accuracy level) --threads 1 --prompt 128 --tokens 48.
 * `npm run bench:chat -- --full` writes the bench's model to bench/.work/models/qwen-0.5b-shaped-*.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ChatTokenizer } from '../src/chat/index.js';
import { onnxChatFile, type ChatVariant } from '../src/chat/onnx-chat.js';
import { compileScript } from './compile.js';
import { mb, runChild } from './lib.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    variant: { type: 'string', default: 'q4' },
    level: { type: 'string', default: '4' },
    threads: { type: 'string', default: '1' },
    prompt: { type: 'string', default: '128' },
    tokens: { type: 'string', default: '48' },
  },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: npx tsx bench/chat-memory.ts <model folder> [--variant q4] [--level 4|file] [--threads 1] [--prompt 128] [--tokens 48]');

// The prompt bench/chat.ts makes.
const tokenizer = await ChatTokenizer.load(dir);
let text = 'The quick brown fox jumps over the lazy dog. '.repeat(64);
while (tokenizer.encode(text).length > Number(values.prompt)) text = text.slice(0, Math.floor(text.length * 0.95));

const runner = compileScript(join(import.meta.dirname, 'chat-memory-runner.ts'));
process.on('exit', runner.cleanup);
const report = await runChild(runner.path, [dir, values.variant, values.level, values.threads, text, values.tokens], {}, true, []);
const weights = statSync(join(dir, onnxChatFile(values.variant as ChatVariant))).size;
console.log(`peak RSS ${mb(report.peakRssBytes)}, ${(report.peakRssBytes / weights).toFixed(2)}x the weight file (${mb(weights)}); decode ${(report.extra as { decode: number }).decode.toFixed(1)} tok/s`);
