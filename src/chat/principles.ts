/**
 * Principle-driven answers, after Dromedary (Sun et al., "Principle-Driven Self-Alignment of Language Models from
 * Scratch with Minimal Human Supervision", 2023) and the critique-and-revise loop of Constitutional AI (Bai et al.,
 * 2022): the principles go into the system prompt; the model answers (the draft), critiques its draft against the
 * principles, and rewrites it; the rewrite is the answer. Three generations, the last one streamed.
 */
import { readFile, stat } from 'node:fs/promises';
import { MoxingError } from '../errors.js';
import { GenerationRun, messageText, type ChatDelta, type ChatMessage, type ChatModel, type ChatOptions, type ChatResult } from './chat.js';

/** Bounds on a principles file: it becomes part of every prompt. */
export const PRINCIPLE_LIMITS = Object.freeze({ fileBytes: 64 * 1024, count: 64, length: 2000 });

export const CRITIQUE_REQUEST =
  'Critique your previous answer against the principles in the system prompt: name each principle it falls short of, and say how. If it follows all of them, say so.';
export const REVISION_REQUEST =
  'Rewrite your previous answer so that it follows every principle, taking your critique into account. Reply with the rewritten answer only.';

/** A principled answer: the rewrite, with the draft and the critique that led to it. */
export interface PrincipledResult extends ChatResult {
  draft: string;
  critique: string;
  /** Tokens read and generated over the three passes (the result's own counts are the rewrite's). */
  passes: { promptTokens: number; completionTokens: number };
}

/**
 * The principles of a text: one per line, blank lines and `#` comments skipped, a leading list marker (`1.`, `2)`,
 * `-`, `*`) dropped, and an indented line continuing the principle above it.
 */
export function parsePrinciples(text: string): string[] {
  const principles: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (/^\s/.test(line) && principles.length > 0 && !/^(\d+[.)]|[-*])\s/.test(trimmed)) {
      principles[principles.length - 1] += ` ${trimmed}`;
      continue;
    }
    principles.push(trimmed.replace(/^(\d+[.)]|[-*])\s+/, ''));
  }
  if (principles.length === 0) throw new MoxingError('BAD_ARGUMENT', 'the principles hold no principle: write one per line');
  if (principles.length > PRINCIPLE_LIMITS.count) throw new MoxingError('BAD_ARGUMENT', `at most ${PRINCIPLE_LIMITS.count} principles, got ${principles.length}`);
  const long = principles.findIndex((p) => p.length > PRINCIPLE_LIMITS.length);
  if (long >= 0) throw new MoxingError('BAD_ARGUMENT', `principle ${long + 1} is ${principles[long].length} characters long; at most ${PRINCIPLE_LIMITS.length}`);
  return principles;
}

/** The principles of a file (parsePrinciples), refused when over PRINCIPLE_LIMITS.fileBytes before it is read. */
export async function loadPrinciples(file: string): Promise<string[]> {
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > PRINCIPLE_LIMITS.fileBytes) throw new MoxingError('BAD_ARGUMENT', `the principles file ${file} is ${size} bytes; at most ${PRINCIPLE_LIMITS.fileBytes}`);
    text = await readFile(file, 'utf8');
  } catch (cause) {
    if (cause instanceof MoxingError) throw cause;
    throw new MoxingError('BAD_ARGUMENT', `cannot read the principles file ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
  return parsePrinciples(text);
}

/** The system prompt that carries the principles, before the conversation's own system prompt when it has one. */
export function principlesSystemPrompt(principles: readonly string[], system?: string): string {
  const listed = principles.map((p, i) => `${i + 1}. ${p}`).join('\n');
  const prompt = `Follow these principles in every answer:\n${listed}`;
  return system ? `${prompt}\n\n${system}` : prompt;
}

/** `messages` with the principles in the first system message (joined with it when there is one). */
export function withPrinciples(messages: readonly ChatMessage[], principles: readonly string[]): ChatMessage[] {
  const first = messages[0];
  if (first?.role === 'system' || first?.role === 'developer') {
    return [{ role: 'system', content: principlesSystemPrompt(principles, messageText(first, false) ?? undefined) }, ...messages.slice(1)];
  }
  return [{ role: 'system', content: principlesSystemPrompt(principles) }, ...messages];
}

/**
 * Answers `messages` under `principles`: a draft, its critique, then the rewrite, which is the answer (streamed by
 * `stream()`). The draft and the critique are plain text with `options`' sampling; a response format applies to the
 * rewrite only. Tools are refused: the loop rewrites text (a caller with tools can still send withPrinciples' messages).
 */
export function principledChat(model: ChatModel, messages: readonly ChatMessage[], principles: readonly string[], options: ChatOptions = {}): GenerationRun<PrincipledResult> {
  if (principles.length === 0) throw new MoxingError('BAD_ARGUMENT', 'principledChat needs at least one principle');
  if ((options.tools?.length ?? 0) > 0) throw new MoxingError('BAD_ARGUMENT', 'principles shape text answers: give tools or principles, not both');
  const { responseFormat: _format, toolChoice: _choice, ...plain } = options;
  const guided = withPrinciples(messages, principles);
  return new GenerationRun<PrincipledResult>(async function* (): AsyncGenerator<ChatDelta, PrincipledResult> {
    const drafted = await model.chat(guided, plain);
    const draft = drafted.message.content ?? '';
    const critiqued: ChatMessage[] = [...guided, { role: 'assistant', content: draft }, { role: 'user', content: CRITIQUE_REQUEST }];
    const criticised = await model.chat(critiqued, plain);
    const critique = criticised.message.content ?? '';
    const revising: ChatMessage[] = [...critiqued, { role: 'assistant', content: critique }, { role: 'user', content: REVISION_REQUEST }];
    const rewrite = yield* model.chat(revising, options).stream();
    const all = [drafted, criticised, rewrite];
    const passes = { promptTokens: all.reduce((n, r) => n + r.promptTokens, 0), completionTokens: all.reduce((n, r) => n + r.tokens.length, 0) };
    return { ...rewrite, draft, critique, passes };
  });
}

/**
 * The answer to `messages` under optional `principles`: the model's own chat without them; principledChat with
 * them; with them and tools, the principles' system prompt only (a tool call is not text to rewrite).
 */
export function chatWithPrinciples(model: ChatModel, messages: readonly ChatMessage[], principles: readonly string[] | undefined, options: ChatOptions = {}): GenerationRun<ChatResult> | GenerationRun<PrincipledResult> {
  if (!principles) return model.chat(messages, options);
  if ((options.tools?.length ?? 0) > 0) return model.chat(withPrinciples(messages, principles), options);
  return principledChat(model, messages, principles, options);
}
