/**
 * `moxing chat`: a one-shot answer (a message argument, or piped stdin) or, on a terminal, a REPL with streaming,
 * history and /reset. `moxing generate`: raw completion of a prompt, no template. The sampling flags are the
 * library's option names (`topP` → --top-p), declared from one table.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { MoxingError } from '../errors.js';
import type { ChatMessage, ChatModel, ChatOptions, ChatResult, ContentPart, GenerationRun } from '../chat/index.js';
import { readImageFile } from '../vision/image.js';
import { DEFAULT_GENERATE, DEFAULT_SAMPLING } from '../chat/index.js';
import { chatWithPrinciples, loadPrinciples, type PrincipledResult } from '../chat/principles.js';
import { addFlags, fieldsOf, type Flag } from './flags.js';
import { parseChoice, parseInteger, parseNumber } from './options.js';

/** The generation flags, by their library names. */
export const SAMPLING_FLAGS: readonly Flag[] = [
  { field: 'maxTokens', value: '<n>', description: 'most tokens to generate', parse: parseInteger('--max-tokens', 1, 1_000_000) },
  { field: 'temperature', short: 't', value: '<t>', description: 'sampling temperature; 0 is greedy', parse: parseNumber('--temperature', 0, 100) },
  { field: 'topK', value: '<k>', description: 'keep the k most likely tokens (0: all)', parse: parseInteger('--top-k', 0) },
  { field: 'topP', value: '<p>', description: 'nucleus sampling: keep tokens up to this total probability', parse: parseNumber('--top-p', 0, 1) },
  { field: 'minP', value: '<p>', description: 'drop tokens below this fraction of the best one\'s probability', parse: parseNumber('--min-p', 0, 1) },
  { field: 'repetitionPenalty', value: '<r>', description: 'divide the logits of tokens already seen (>1 repeats less)', parse: parseNumber('--repetition-penalty', 0.01, 100) },
  { field: 'presencePenalty', value: '<p>', description: 'OpenAI presence penalty, -2 to 2', parse: parseNumber('--presence-penalty', -2, 2) },
  { field: 'frequencyPenalty', value: '<p>', description: 'OpenAI frequency penalty, -2 to 2', parse: parseNumber('--frequency-penalty', -2, 2) },
  { field: 'seed', value: '<n>', description: 'seed of the sampler (reproducible output)', parse: parseInteger('--seed', 0) },
  { field: 'stop', value: '<text>', description: 'stop before this text', parse: (value: string) => [value] },
];

const DEFAULTS = { ...DEFAULT_SAMPLING, ...DEFAULT_GENERATE };

interface ModelFlags {
  model: string;
  variant?: 'fp32' | 'fp16' | 'q8' | 'q4' | 'q4f16';
  engine?: 'onnx' | 'llama.cpp';
  file?: string;
  threads?: number;
  json: boolean;
}

interface ChatFlags extends ModelFlags {
  system?: string;
  image: string[];
  schema?: string;
  jsonObject: boolean;
  principles?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function withModelFlags(command: Command): Command {
  return command
    .requiredOption('-m, --model <model>', 'ONNX export folder or hub id (owner/name[@rev]), or a .gguf file (or a folder holding one)')
    .option('--variant <variant>', 'ONNX weights: fp32, fp16, q8, q4, q4f16 (default: fp32)', parseChoice('--variant', ['fp32', 'fp16', 'q8', 'q4', 'q4f16'] as const))
    .option('--engine <engine>', 'onnx or llama.cpp (default: llama.cpp for .gguf files, else onnx)', parseChoice('--engine', ['onnx', 'llama.cpp'] as const))
    .option('--file <name>', 'the GGUF file of a folder or repo holding several')
    .option('--threads <n>', 'CPU threads', parseInteger('--threads', 1, 1024))
    .option('--json', 'print {"tokens": [...], "text": ...} when done instead of streaming text');
}

async function loadModel(options: ModelFlags): Promise<ChatModel> {
  const { loadChatModel } = await import('../chat/load.js');
  return loadChatModel(options.model, {
    variant: options.variant,
    engine: options.engine,
    file: options.file,
    threads: options.threads,
    runtime: options.threads === undefined ? undefined : { intraOpThreads: options.threads },
  });
}

/** Streams a run's text to `out`, or prints its JSON (with the draft and critique of a principled answer); returns the result. */
async function emit(run: GenerationRun<ChatResult> | GenerationRun<PrincipledResult>, json: boolean, out: { write(text: string): unknown }): Promise<ChatResult> {
  if (json) {
    const result = await run;
    const passes = 'draft' in result ? { draft: result.draft, critique: result.critique } : {};
    out.write(`${JSON.stringify({ tokens: result.tokens, text: result.message.content ?? '', finish_reason: result.finishReason, ...(result.message.tool_calls ? { tool_calls: result.message.tool_calls } : {}), ...passes })}\n`);
    return result;
  }
  const stream = run.stream();
  for (;;) {
    const next = await stream.next();
    if (next.done) {
      out.write('\n');
      return next.value;
    }
    if (next.value.content) out.write(next.value.content);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

async function responseFormat(options: ChatFlags): Promise<ChatOptions['responseFormat']> {
  if (options.schema && options.jsonObject) throw new MoxingError('BAD_ARGUMENT', 'give --schema or --json-object, not both');
  if (options.jsonObject) return { type: 'json_object' };
  if (!options.schema) return undefined;
  let schema: unknown;
  try {
    schema = JSON.parse(await readFile(options.schema, 'utf8'));
  } catch (cause) {
    throw new MoxingError('BAD_ARGUMENT', `--schema ${options.schema}: ${(cause as Error).message}`, { cause });
  }
  return { type: 'json_schema', json_schema: { name: 'output', schema } };
}

/** `--image` files as data-URL image parts. */
async function imageParts(files: readonly string[]): Promise<ContentPart[]> {
  const parts: ContentPart[] = [];
  for (const file of files) parts.push({ type: 'image_url', image_url: { url: `data:application/octet-stream;base64,${(await readImageFile(file)).toString('base64')}` } });
  return parts;
}

/** A user turn: the text, after the images when there are any. */
function userMessage(text: string, images: readonly ContentPart[]): ChatMessage {
  return { role: 'user', content: images.length > 0 ? [...images, { type: 'text', text }] : text };
}

/**
 * The REPL: each line is a user turn, answers stream, the conversation is kept (so the model's prefix cache
 * makes each turn cost only its new tokens); /reset forgets it, /exit or end of input leaves.
 */
export async function runRepl(model: ChatModel, input: NodeJS.ReadableStream, out: { write(text: string): unknown }, options: ChatOptions & { system?: string; images?: readonly ContentPart[]; principles?: readonly string[] }): Promise<ChatMessage[]> {
  const start = (): ChatMessage[] => (options.system ? [{ role: 'system', content: options.system }] : []);
  let history = start();
  const lines = createInterface({ input, terminal: false });
  out.write(`chatting with ${model.id} (${model.engine}); /reset forgets the conversation, /exit leaves\n> `);
  for await (const line of lines) {
    const text = line.trim();
    if (text === '/exit' || text === '/quit') break;
    if (text === '/reset') {
      history = start();
      out.write('(conversation reset)\n> ');
      continue;
    }
    if (text === '') {
      out.write('> ');
      continue;
    }
    // The images go with the first user turn after each start or /reset.
    history.push(userMessage(text, history.some((m) => m.role === 'user') ? [] : (options.images ?? [])));
    const result = await emit(answer(model, history, options), false, out);
    history.push({ role: 'assistant', content: result.message.content ?? '' });
    out.write('> ');
  }
  lines.close();
  return history;
}

/** The model's answer to `messages`, under the --principles when given. */
function answer(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions & { principles?: readonly string[] }): GenerationRun<ChatResult> | GenerationRun<PrincipledResult> {
  const { principles, ...chatOptions } = options;
  return chatWithPrinciples(model, messages, principles, chatOptions);
}

export function register(program: Command): void {
  const command = withModelFlags(
    program
      .command('chat')
      .description('chat with a language model: one answer to MESSAGE (or piped stdin), or a REPL on a terminal')
      .argument('[message]', 'the user message (omit for the REPL, or pipe it in)')
      .option('-s, --system <text>', 'system prompt')
      .option('--image <file>', 'an image for vision-language models, repeatable', collect, [])
      .option('--schema <file>', 'answer JSON valid under this JSON schema (constrained decoding)')
      .option('--json-object', 'answer a JSON object (constrained decoding)')
      .option('--principles <file>', 'principles, one per line: in the system prompt, then a critique and a rewrite of each answer (Dromedary)'),
  );
  addFlags(command, SAMPLING_FLAGS, DEFAULTS);
  command.action(async (message: string | undefined, options: ChatFlags, cmd: Command) => {
    const sampling = fieldsOf<ChatOptions>(cmd, SAMPLING_FLAGS);
    const format = await responseFormat(options);
    const principles = options.principles === undefined ? undefined : await loadPrinciples(options.principles);
    let text = message;
    if (text === undefined && !process.stdin.isTTY) text = (await readStdin()).trim();
    if (text === '') throw new MoxingError('BAD_ARGUMENT', 'the message is empty');
    const model = await loadModel(options);
    try {
      if (options.image.length > 0 && !model.vision) throw new MoxingError('BAD_ARGUMENT', `${model.id} reads text only; --image needs a vision-language model`);
      const images = await imageParts(options.image);
      const chatOptions = { ...sampling, ...(format ? { responseFormat: format } : {}), principles };
      if (text === undefined) {
        await runRepl(model, process.stdin, process.stdout, { ...chatOptions, system: options.system, images });
        return;
      }
      const messages: ChatMessage[] = [...(options.system ? [{ role: 'system' as const, content: options.system }] : []), userMessage(text, images)];
      await emit(answer(model, messages, chatOptions), options.json, process.stdout);
    } finally {
      await model.dispose();
    }
  });
}

export function registerGenerate(program: Command): void {
  const command = withModelFlags(
    program
      .command('generate')
      .description('raw completion of a prompt (no chat template)')
      .requiredOption('-p, --prompt <text>', 'the text to continue'),
  );
  addFlags(command, SAMPLING_FLAGS, DEFAULTS);
  command.action(async (options: ModelFlags & { prompt: string }, cmd: Command) => {
    const sampling = fieldsOf<ChatOptions>(cmd, SAMPLING_FLAGS);
    const model = await loadModel(options);
    try {
      await emit(model.generate(options.prompt, sampling), options.json, process.stdout);
    } finally {
      await model.dispose();
    }
  });
}
