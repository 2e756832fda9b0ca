/**
 * A language model's tokenizer and chat template, read from the export's own files: `tokenizer.json` through
 * @huggingface/tokenizers, the Jinja chat template (`tokenizer_config.json`'s `chat_template`, or
 * `chat_template.jinja` / `chat_template.json` beside it) through @huggingface/jinja, rendered as transformers
 * renders it (messages, tools, add_generation_prompt, the special-token strings).
 *
 * It also knows the bytes each token stands for, which constrained decoding walks.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { MoxingError } from '../errors.js';

type Json = Record<string, unknown>;

/** A content part as vision-language chat templates read it. */
export type TemplatePart = { type: 'text'; text: string } | { type: 'image' };

/** A message as a chat template reads it (OpenAI's shape, with tool-call arguments as objects). */
export interface TemplateMessage {
  role: string;
  content: string | null | TemplatePart[];
  tool_calls?: Array<{ id?: string; type: 'function'; function: { name: string; arguments: unknown } }>;
  tool_call_id?: string;
  name?: string;
}

export interface RenderOptions {
  /** Tool definitions in OpenAI's shape ({type: 'function', function: {name, description, parameters}}). */
  tools?: readonly unknown[];
  /** Append the assistant turn's opening. @default true */
  addGenerationPrompt?: boolean;
}

/** GPT-2's byte → printable character map, inverted: the bytes of a byte-level BPE token string. */
function unicodeToByte(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) map.set(printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++), b);
  return map;
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return undefined;
}

/** A model's Jinja chat template, rendered as transformers renders it. */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly text: string,
    /** bos_token, eos_token, pad_token, unk_token strings the template may use. */
    private readonly specials: Readonly<Record<string, string>> = {},
  ) {
    try {
      this.template = new Template(text);
    } catch (cause) {
      throw new MoxingError('TOKENIZER_INVALID', `the chat template does not parse: ${(cause as Error).message}`, { cause });
    }
  }

  /** The prompt text of a conversation. */
  render(messages: readonly TemplateMessage[], options: RenderOptions = {}): string {
    try {
      return this.template.render({
        messages,
        ...(options.tools && options.tools.length > 0 ? { tools: options.tools } : {}),
        add_generation_prompt: options.addGenerationPrompt ?? true,
        bos_token: this.specials.bos_token ?? '',
        eos_token: this.specials.eos_token ?? '',
        pad_token: this.specials.pad_token ?? '',
        unk_token: this.specials.unk_token ?? '',
      });
    } catch (cause) {
      throw new MoxingError('BAD_ARGUMENT', `the model's chat template refused the conversation: ${(cause as Error).message}`, { cause });
    }
  }
}

export class ChatTokenizer {
  private readonly template: ChatTemplate | undefined;
  private bytesCache: (Uint8Array | undefined)[] | undefined;

  private constructor(
    readonly tokenizer: Tokenizer,
    private readonly tokenizerJson: Json,
    private readonly config: Json,
    templateText: string | undefined,
    /** Ids that end generation (generation_config's eos ids, then the tokenizer's eos token). */
    readonly eosIds: readonly number[],
    /** Each id's token string, where the BPE vocabulary was built here (buildTokenizer) and the parsed one dropped. */
    private readonly pieces?: readonly (string | undefined)[],
  ) {
    const special = (key: string) => tokenText(config[key]) ?? '';
    const specials = { bos_token: special('bos_token'), eos_token: special('eos_token'), pad_token: special('pad_token'), unk_token: special('unk_token') };
    this.template = templateText === undefined ? undefined : new ChatTemplate(templateText, specials);
  }

  /** Reads the tokenizer and template of the model in `dir`; `eosIds` from the model's generation config. */
  static async load(dir: string, eosIds: readonly number[] = []): Promise<ChatTokenizer> {
    const tokenizerJson = await readJsonFile(join(dir, 'tokenizer.json'), true);
    const config = (await readJsonFile(join(dir, 'tokenizer_config.json'), false)) ?? {};
    let built: BuiltTokenizer;
    try {
      built = buildTokenizer(tokenizerJson, config);
    } catch (cause) {
      throw new MoxingError('TOKENIZER_INVALID', `tokenizer.json in ${dir} could not be read: ${(cause as Error).message}`, { cause });
    }
    const { tokenizer, pieces } = built;
    const template = await findTemplate(dir, config);
    const eos = tokenText(config.eos_token);
    const eosId = eos === undefined ? undefined : tokenizer.token_to_id(eos);
    const ids = [...eosIds, ...(eosId === undefined ? [] : [eosId])];
    return new ChatTokenizer(tokenizer, tokenizerJson, config, template, [...new Set(ids)], pieces);
  }

  get hasTemplate(): boolean {
    return this.template !== undefined;
  }

  /** Ids of `text`, without the special tokens a post-processor would add (templates write their own). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecial });
  }

  /** The prompt text of a conversation, rendered by the model's own chat template. */
  render(messages: readonly TemplateMessage[], options: RenderOptions = {}): string {
    if (!this.template) throw new MoxingError('TOKENIZER_INVALID', 'this model has no chat template (tokenizer_config.json chat_template, chat_template.jinja or chat_template.json); use raw completion (generate) instead');
    return this.template.render(messages, options);
  }

  /** Ids of the added tokens marked special (never part of constrained output). */
  specialIds(): Set<number> {
    const out = new Set<number>();
    for (const token of (this.tokenizerJson.added_tokens as Array<{ id: number; special: boolean }> | undefined) ?? []) if (token.special) out.add(token.id);
    return out;
  }

  /** Number of ids the tokenizer knows (vocabulary plus added tokens). */
  get size(): number {
    return this.tokenBytes().length;
  }

  /**
   * The bytes each id decodes to (undefined for special tokens): byte-level BPE maps its characters back to
   * bytes; SentencePiece-style vocabularies turn ▁ into a space and `<0xNN>` into that byte.
   */
  tokenBytes(): readonly (Uint8Array | undefined)[] {
    if (this.bytesCache) return this.bytesCache;
    const model = this.tokenizerJson.model as Json;
    const vocab: Array<[string, number]> = this.pieces
      ? this.pieces.flatMap((piece, id): Array<[string, number]> => (piece === undefined ? [] : [[piece, id]]))
      : Array.isArray(model.vocab)
        ? (model.vocab as Array<[string, number]>).map(([piece], id) => [piece, id])
        : Object.entries(model.vocab as Record<string, number>);
    const added = (this.tokenizerJson.added_tokens as Array<{ id: number; content: string; special: boolean }> | undefined) ?? [];
    const size = Math.max(-1, ...vocab.map(([, id]) => id), ...added.map((t) => t.id)) + 1;
    const out: (Uint8Array | undefined)[] = new Array(size).fill(undefined);
    const byteLevel = JSON.stringify(this.tokenizerJson.decoder ?? {}).includes('"ByteLevel"');
    const map = unicodeToByte();
    const encoder = new TextEncoder();
    for (const [piece, id] of vocab) {
      if (byteLevel) {
        const bytes: number[] = [];
        let ok = true;
        for (const char of piece) {
          const b = map.get(char);
          if (b === undefined) ok = false;
          else bytes.push(b);
        }
        out[id] = ok ? Uint8Array.from(bytes) : encoder.encode(piece);
      } else {
        const hex = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
        out[id] = hex ? Uint8Array.of(parseInt(hex[1], 16)) : encoder.encode(piece.replaceAll('\u2581', ' '));
      }
    }
    for (const token of added) out[token.id] = token.special ? undefined : encoder.encode(token.content);
    this.bytesCache = out;
    return out;
  }
}

interface BuiltTokenizer {
  tokenizer: Tokenizer;
  /** Id → token string (the added tokens' at their ids), when built here; the parsed vocabulary is then dropped. */
  pieces?: (string | undefined)[];
}

/** The fields of @huggingface/tokenizers' BPE model that its constructor derives from the vocabulary. */
interface BpeVocabulary {
  tokens_to_ids?: unknown;
  vocab?: unknown;
  unk_token_id?: unknown;
}

/**
 * The tokenizer of a parsed tokenizer.json. @huggingface/tokenizers builds a BPE vocabulary as
 * `new Map(Object.entries(vocab))`: with a 151,936-token vocabulary that many [token, id] pairs are alive at once in
 * V8's young generation, which then grows to its largest and stays so (about 20 MB more resident memory for the
 * rest of the process, and rarer scavenges, so dead output buffers of the decoder pile up longer), on top of a 45 MB
 * transient peak; and the parsed vocabulary object stays referenced beside the Map (7 MB). Here the library builds
 * the model on an empty vocabulary, and the same Map and id → token array are then filled from the parsed object
 * (the same entries in the same order, the added tokens set after the vocabulary as the library sets them), which
 * is then dropped. Another model type, or a library version whose BPE model lacks these fields, is built by the
 * library as it is.
 */
export function buildTokenizer(json: Json, config: Json): BuiltTokenizer {
  const model = json.model as Json | undefined;
  const vocab = model?.vocab;
  if (model?.type !== 'BPE' || !vocab || typeof vocab !== 'object' || Array.isArray(vocab)) return { tokenizer: new Tokenizer(json, config) };
  const entries = vocab as Record<string, number>;
  model.vocab = {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (cause) {
    model.vocab = vocab;
    throw cause;
  }
  const bpe = (tokenizer as unknown as { model?: BpeVocabulary }).model;
  if (!bpe || !(bpe.tokens_to_ids instanceof Map) || !Array.isArray(bpe.vocab) || !('unk_token_id' in bpe)) {
    model.vocab = vocab;
    return { tokenizer: new Tokenizer(json, config) };
  }
  const tokensToIds = new Map<string, number>();
  const pieces = new Array<string | undefined>(Object.keys(entries).length);
  // for...in visits the keys in Object.entries' order (integer-like keys first, then insertion order).
  for (const token in entries) {
    const id = entries[token];
    tokensToIds.set(token, id);
    pieces[id] = token;
  }
  // The library reads the unknown token's id before the added tokens join the vocabulary.
  const unkId = typeof model.unk_token === 'string' ? tokensToIds.get(model.unk_token) : undefined;
  for (const added of (json.added_tokens as Array<{ id: number; content: string }> | undefined) ?? []) {
    tokensToIds.set(added.content, added.id);
    pieces[added.id] = added.content;
  }
  bpe.tokens_to_ids = tokensToIds;
  bpe.vocab = pieces;
  bpe.unk_token_id = unkId;
  return { tokenizer, pieces };
}

async function findTemplate(dir: string, config: Json): Promise<string | undefined> {
  const inConfig = config.chat_template;
  if (typeof inConfig === 'string') return inConfig;
  if (Array.isArray(inConfig)) {
    const named = inConfig as Array<{ name: string; template: string }>;
    return (named.find((t) => t.name === 'default') ?? named[0])?.template;
  }
  if (existsSync(join(dir, 'chat_template.jinja'))) return readFile(join(dir, 'chat_template.jinja'), 'utf8');
  const json = await readJsonFile(join(dir, 'chat_template.json'), false);
  return typeof json?.chat_template === 'string' ? json.chat_template : undefined;
}

export async function readJsonFile(path: string, required: true): Promise<Json>;
export async function readJsonFile(path: string, required: false): Promise<Json | null>;
export async function readJsonFile(path: string, required: boolean): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (!required) return null;
    throw new MoxingError('MODEL_INVALID', `${path} is missing; a language model folder needs it`, { cause });
  }
  try {
    return JSON.parse(text) as Json;
  } catch (cause) {
    throw new MoxingError('CONFIG_INVALID', `${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}
