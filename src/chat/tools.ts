/**
 * OpenAI tools on local models. Tools go to the model through its chat template's own `tools` support; calls come
 * back in the Hermes/Qwen form the common templates teach (`<tool_call>{"name": …, "arguments": {…}}</tool_call>`,
 * several in a row allowed), or, for Llama-3.1-style templates, as one bare JSON object naming a known tool. When
 * `tool_choice` requires a call, the output is constrained to that form, so it always parses.
 */
import { randomBytes } from 'node:crypto';
import { MoxingError, quoteInput } from '../errors.js';
import { JsonGrammar, type JsonLimits } from './json-grammar.js';

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export interface ToolCall {
  id: string;
  type: 'function';
  /** `arguments` is JSON text, as OpenAI sends it. */
  function: { name: string; arguments: string };
}

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';

export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('base64url')}`;
}

/** The tools a choice allows, checked against the definitions. */
export function toolsFor(tools: readonly ToolDefinition[], choice: ToolChoice): ToolDefinition[] {
  if (choice === 'none') return [];
  if (typeof choice === 'object') {
    const named = tools.find((t) => t.function.name === choice.function.name);
    if (!named) throw new MoxingError('BAD_ARGUMENT', `tool_choice names ${quoteInput(choice.function.name, 60)}, which is not among the tools`);
    return [named];
  }
  return [...tools];
}

/** A grammar that forces exactly one call of one of `tools` in the Hermes form. */
export function toolCallGrammar(tools: readonly ToolDefinition[], limits: Partial<JsonLimits> = {}): JsonGrammar {
  if (tools.length === 0) throw new MoxingError('BAD_ARGUMENT', 'tool_choice requires a call but no tools were given');
  const names = tools.map((t) => t.function.name);
  const args = tools.length === 1 ? (tools[0].function.parameters ?? { type: 'object' }) : { type: 'object' };
  const schema = { type: 'object', properties: { name: { enum: names }, arguments: args } };
  return JsonGrammar.sequence([`${TOOL_CALL_OPEN}\n`, { schema }, `\n${TOOL_CALL_CLOSE}`], limits);
}

/** How many characters at the end of `text` may be the start of a tool call (held back from a stream). */
export function toolCallHoldBack(text: string): number {
  const at = text.indexOf(TOOL_CALL_OPEN);
  if (at >= 0) return text.length - at;
  for (let n = Math.min(TOOL_CALL_OPEN.length - 1, text.length); n > 0; n--) if (TOOL_CALL_OPEN.startsWith(text.slice(text.length - n))) return n;
  return 0;
}

/** Splits model output into content and tool calls. */
export function parseToolCalls(text: string, tools: readonly ToolDefinition[]): { content: string | null; calls: ToolCall[] } {
  const known = new Set(tools.map((t) => t.function.name));
  const calls: ToolCall[] = [];
  const pattern = /<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g;
  let content = text;
  if (text.includes(TOOL_CALL_OPEN)) {
    content = text.replace(pattern, (whole, body: string) => {
      const call = readCall(body, known);
      if (!call) return whole;
      calls.push(call);
      return '';
    });
  } else {
    const call = readCall(text.trim(), known);
    if (call) {
      calls.push(call);
      content = '';
    }
  }
  const rest = content.trim();
  return { content: rest.length > 0 ? rest : null, calls };
}

function readCall(body: string, known: ReadonlySet<string>): ToolCall | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const { name, arguments: args, parameters } = parsed as { name?: unknown; arguments?: unknown; parameters?: unknown };
  if (typeof name !== 'string' || !known.has(name)) return undefined;
  const value = args ?? parameters ?? {};
  return { id: newToolCallId(), type: 'function', function: { name, arguments: typeof value === 'string' ? value : JSON.stringify(value) } };
}
