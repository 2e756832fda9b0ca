/**
 * `loadChatModel(ref, options)`: one entry point over the engines. The engine follows the files: a `.gguf` file
 * (or a folder or hub repo holding one) goes to llama.cpp, an onnx-community export to ONNX Runtime; `engine`
 * overrides the choice.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MoxingError } from '../errors.js';
import { looksLikeGgufRepo, parseModelRef, splitGgufSelector } from '../hub/index.js';
import type { ChatModel, Engine } from './chat.js';
import { OnnxChatModel, type OnnxChatLoadOptions } from './onnx-chat.js';

export interface ChatLoadOptions extends OnnxChatLoadOptions {
  /** @default chosen by the files: .gguf → 'llama.cpp', else 'onnx' */
  engine?: Engine;
  /**
   * The GGUF file in a folder or hub repo holding several: in a folder, a name or a suffix such as Q4_K_M.gguf;
   * in a hub repo, an exact file name or a quantization name such as Q4_0 (as `owner/name:Q4_0` also says).
   */
  file?: string;
  /** llama.cpp threads. @default DEFAULT_LLAMA_THREADS */
  threads?: number;
  /** llama.cpp context size in tokens. @default the model's, capped at 4096 */
  contextSize?: number;
}

export const ENGINES: readonly Engine[] = ['onnx', 'llama.cpp'];

/** The GGUF file a local reference names, if it names one. */
export function localGguf(ref: string, file?: string): string | undefined {
  if (ref.toLowerCase().endsWith('.gguf') && existsSync(ref) && statSync(ref).isFile()) return ref;
  if (!existsSync(ref) || !statSync(ref).isDirectory()) return undefined;
  const ggufs = readdirSync(ref).filter((f) => f.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 0) return undefined;
  if (file !== undefined) {
    const match = ggufs.find((f) => f === file || f.endsWith(file));
    if (!match) throw new MoxingError('MODEL_INVALID', `the folder ${ref} has no GGUF file matching "${file}" (it has ${ggufs.slice(0, 6).join(', ')})`);
    return join(ref, match);
  }
  if (ggufs.length > 1) throw new MoxingError('BAD_ARGUMENT', `the folder ${ref} holds ${ggufs.length} GGUF files (${ggufs.slice(0, 6).join(', ')}); pick one with --file`);
  return join(ref, ggufs[0]);
}

export async function loadChatModel(ref: string, options: ChatLoadOptions = {}): Promise<ChatModel> {
  const { base, file, gguf, engine } = chooseEngine(ref, options);
  if (engine === 'onnx') return OnnxChatModel.load(base, options);
  const { LlamaChatModel } = await import('./llama-chat.js');
  if (gguf) return LlamaChatModel.load(gguf, options, ref);
  const parsed = parseModelRef(base);
  if (parsed.kind === 'local') throw new MoxingError('MODEL_INVALID', `the folder ${base} has no .gguf file for the llama.cpp engine`);
  return LlamaChatModel.loadFromHub(parsed, { ...options, file }, ref);
}

/**
 * The engine a reference goes to, with its parts: a `.gguf` file or a folder holding one → llama.cpp; a hub
 * reference with a GGUF selector (`owner/name:Q4_0`, or `file`) or a repo named *GGUF* → llama.cpp; else ONNX.
 * An unknown `engine`, or 'onnx' for a GGUF file, is refused.
 */
export function chooseEngine(ref: string, options: Pick<ChatLoadOptions, 'engine' | 'file'>): { base: string; file: string | undefined; gguf: string | undefined; engine: Engine } {
  if (options.engine !== undefined && !ENGINES.includes(options.engine)) throw new MoxingError('BAD_ARGUMENT', `engine must be one of ${ENGINES.join(', ')}, got "${options.engine}"`);
  const split = existsSync(ref) ? { ref, selector: undefined } : splitGgufSelector(ref);
  const file = split.selector ?? options.file;
  const gguf = localGguf(split.ref, file);
  if (options.engine === 'onnx' && gguf && split.ref === gguf) throw new MoxingError('BAD_ARGUMENT', `${basename(gguf)} is a GGUF file: use the llama.cpp engine`);
  if (options.engine !== undefined || gguf) return { base: split.ref, file, gguf, engine: options.engine ?? 'llama.cpp' };
  const hubGguf = !existsSync(split.ref) && looksLikeGgufRepo(parseModelRef(split.ref), file);
  return { base: split.ref, file, gguf, engine: hubGguf ? 'llama.cpp' : 'onnx' };
}
