/**
 * Whisper's tokenizer, read from a model folder's Hugging Face files and behaving as openai/whisper's
 * `tokenizer.py`: byte-level BPE with tiktoken's exact ids for text, special ids taken from the files
 * (multilingual and English-only `.en` layouts differ by one), and timestamp tokens derived from
 * generation_config.json (timestamp_begin = no_timestamps_token_id + 1, 0.02 s apart).
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MoxingError } from '../errors.js';
import { ByteLevelBpe, vocabEntryBytes } from './bpe.js';
import { LANGUAGES, toLanguageCode } from './languages.js';
import { splitTokensOnSpaces, splitTokensOnUnicode, type WordTokens } from './word-split.js';

/** Seconds between two timestamp tokens. */
export const TIMESTAMP_STEP_S = 0.02;
/** Languages written without spaces, split into words at unicode boundaries (openai split_to_word_tokens). */
const UNSPACED_LANGUAGES: ReadonlySet<string> = new Set(['zh', 'ja', 'th', 'lo', 'my', 'yue']);

export type WhisperTask = 'transcribe' | 'translate';

export interface LanguageToken {
  readonly code: string;
  readonly id: number;
}

/** The parsed content of a model folder's tokenizer files. */
export interface WhisperTokenizerFiles {
  /** Byte-level vocabulary entry -> id (tokenizer.json `model.vocab` or vocab.json). */
  readonly vocab: Readonly<Record<string, number>>;
  /** Special token content -> id (tokenizer.json `added_tokens` and added_tokens.json). */
  readonly specialTokens: ReadonlyMap<string, number>;
  /** generation_config.json, when present. */
  readonly generationConfig?: Readonly<Record<string, unknown>>;
  /** config.json, when present. */
  readonly config?: Readonly<Record<string, unknown>>;
}

const UTF8_DECODER = new TextDecoder('utf-8');
const UTF8_ENCODER = new TextEncoder();

export class WhisperTokenizer {
  readonly eot: number;
  readonly sot: number;
  readonly sotPrev: number;
  readonly sotLm: number;
  /** `<|nospeech|>`, or `<|nocaptions|>` in older vocabularies. */
  readonly noSpeech: number;
  readonly noTimestamps: number;
  /** Id of `<|0.00|>`; token `timestampBegin + i` is i * 0.02 s. */
  readonly timestampBegin: number;
  readonly transcribe: number;
  readonly translate: number;
  /** Every language token of a multilingual model, in id order (openai all_language_tokens); empty for `.en`. */
  readonly languageTokens: readonly LanguageToken[];
  readonly isMultilingual: boolean;
  /** Number of logits the decoder emits (config.json vocab_size). */
  readonly vocabSize: number;
  /** Special token content -> id. */
  readonly specialTokens: ReadonlyMap<string, number>;

  readonly #bpe: ByteLevelBpe;
  /** Bytes of each id below `timestampBegin` that has text (text tokens and special tokens). */
  readonly #bytes: (Uint8Array | undefined)[];
  readonly #languageById: ReadonlyMap<number, string>;
  readonly #languageByCode: ReadonlyMap<string, number>;
  #nonSpeech: readonly number[] | undefined;

  constructor(files: WhisperTokenizerFiles, source = 'the tokenizer files') {
    const special = files.specialTokens;
    const gen = files.generationConfig ?? {};
    const need = (names: readonly string[], fallback?: unknown): number => {
      for (const name of names) {
        const id = special.get(name) ?? files.vocab[name];
        if (id !== undefined) return id;
      }
      if (typeof fallback === 'number' && Number.isInteger(fallback)) return fallback;
      throw new MoxingError(
        'TOKENIZER_INVALID',
        `${source} lack the special token ${names.join(' or ')}; use the tokenizer.json and added_tokens.json of a Whisper export`,
      );
    };
    this.eot = need(['<|endoftext|>'], gen.eos_token_id);
    this.sot = need(['<|startoftranscript|>'], gen.decoder_start_token_id);
    this.translate = need(['<|translate|>']);
    this.transcribe = need(['<|transcribe|>']);
    this.sotLm = need(['<|startoflm|>']);
    this.sotPrev = need(['<|startofprev|>'], gen.prev_sot_token_id);
    this.noSpeech = need(['<|nospeech|>', '<|nocaptions|>']);
    // generation_config.json is the authority on timestamps: the tokenizer files may not list timestamp tokens.
    const noTimestamps = gen.no_timestamps_token_id;
    this.noTimestamps = typeof noTimestamps === 'number' ? noTimestamps : need(['<|notimestamps|>']);
    this.timestampBegin = this.noTimestamps + 1;
    const configVocab = files.config?.vocab_size;
    this.vocabSize = typeof configVocab === 'number' ? configVocab : this.timestampBegin + 1501;
    this.isMultilingual = typeof gen.is_multilingual === 'boolean' ? gen.is_multilingual : this.vocabSize >= 51865;
    this.specialTokens = special;

    const languages: LanguageToken[] = [];
    if (this.isMultilingual) {
      for (const [content, id] of special) {
        const code = /^<\|([a-z]+)\|>$/.exec(content)?.[1];
        if (code !== undefined && Object.hasOwn(LANGUAGES, code)) languages.push({ code, id });
      }
      languages.sort((a, b) => a.id - b.id);
    }
    this.languageTokens = Object.freeze(languages);
    this.#languageById = new Map(languages.map((l) => [l.id, l.code]));
    this.#languageByCode = new Map(languages.map((l) => [l.code, l.id]));

    // Text tokens are the ids below eot; specials are never reachable by BPE (tiktoken keeps them apart).
    const ranks = new Map<string, number>();
    this.#bytes = [];
    for (const [entry, id] of Object.entries(files.vocab)) {
      if (id >= this.eot) continue;
      const bytes = vocabEntryBytes(entry);
      if (bytes === undefined) {
        throw new MoxingError('TOKENIZER_INVALID', `${source}: vocabulary entry ${JSON.stringify(entry)} (id ${id}) is not byte-level BPE text; Whisper needs a byte-level vocabulary`);
      }
      if (bytes.length > 0) ranks.set(entry, id);
      this.#bytes[id] = bytes;
    }
    for (const [content, id] of special) {
      if (id < this.timestampBegin) this.#bytes[id] = UTF8_ENCODER.encode(content);
    }
    this.#bpe = new ByteLevelBpe(ranks);
  }

  /** Text token ids of `text` without special tokens (prompts, hotwords): openai's `tokenizer.encode`. */
  encode(text: string): number[] {
    return this.#bpe.encode(text);
  }

  /**
   * Text of the text tokens in `ids`; every id >= eot (special and timestamp tokens) is skipped. On sequences of
   * text and timestamp tokens, which is all transcription decodes, this equals openai's `decode`.
   */
  decode(ids: readonly number[]): string {
    return this.#decodeBytes(ids.filter((id) => id < this.eot));
  }

  /** Text with special tokens spelled out and timestamps annotated as `<|1.08|>` (openai decode_with_timestamps). */
  decodeWithTimestamps(ids: readonly number[]): string {
    return this.#decodeBytes(ids);
  }

  #decodeBytes(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (const id of ids) {
      const bytes = this.tokenBytes(id);
      parts.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    // Invalid UTF-8 becomes U+FFFD per maximal subpart, as Python's errors="replace" does.
    return UTF8_DECODER.decode(all);
  }

  /** The bytes token `id` stands for (timestamps as `<|x.xx|>`). */
  tokenBytes(id: number): Uint8Array {
    if (id >= this.timestampBegin && id < this.vocabSize) return UTF8_ENCODER.encode(`<|${timestampText(id - this.timestampBegin)}|>`);
    const bytes = Number.isInteger(id) && id >= 0 ? this.#bytes[id] : undefined;
    if (bytes === undefined) {
      throw new MoxingError('BAD_ARGUMENT', `token id ${id} is not in this tokenizer's vocabulary (0..${this.vocabSize - 1}); pass ids the model produced`);
    }
    return bytes;
  }

  isTimestamp(id: number): boolean {
    return id >= this.timestampBegin;
  }

  /** Seconds that timestamp token `id` marks, relative to its window. */
  timestampSeconds(id: number): number {
    return (id - this.timestampBegin) * TIMESTAMP_STEP_S;
  }

  /** Language token id of `language` (a code such as "en" or a name such as "English"). */
  languageToken(language: string): number {
    const code = toLanguageCode(language);
    const id = code === undefined ? undefined : this.#languageByCode.get(code);
    if (id === undefined) {
      const known = this.languageTokens.length === 0 ? 'none: this is an English-only model' : this.languageTokens.map((l) => l.code).join(', ');
      throw new MoxingError('BAD_ARGUMENT', `language "${language}" is not supported by this model; use one of: ${known}`);
    }
    return id;
  }

  /** Language code of a language token id, or undefined when `id` is not one. */
  languageCode(id: number): string | undefined {
    return this.#languageById.get(id);
  }

  /**
   * The decoder prompt openai calls sot_sequence: [sot, language, task] for multilingual models (language
   * defaults to "en", as openai's get_tokenizer does), [sot] for English-only ones.
   */
  sotSequence(language?: string, task: WhisperTask = 'transcribe'): number[] {
    if (!this.isMultilingual) return [this.sot];
    return [this.sot, this.languageToken(language ?? 'en'), task === 'translate' ? this.translate : this.transcribe];
  }

  sotSequenceIncludingNoTimestamps(language?: string, task: WhisperTask = 'transcribe'): number[] {
    return [...this.sotSequence(language, task), this.noTimestamps];
  }

  /**
   * Tokens suppressed to avoid speaker tags and non-speech annotations (openai non_speech_tokens), keeping
   * basic punctuation, and hyphens or quotes inside words. Sorted ascending.
   */
  nonSpeechTokens(): readonly number[] {
    if (this.#nonSpeech !== undefined) return this.#nonSpeech;
    const symbols = [...'"#()*+/:;<=>@[\\]^_`{|}~「」『』'];
    symbols.push(...'<< >> <<< >>> -- --- -( -[ (\' (" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪'.split(' '));
    // U+2640..U+267F: one token or several sharing their first bytes, so the first token is safe to suppress.
    const miscellaneous = new Set([...'♩♪♫♬♭♮♯']);
    const result = new Set<number>([this.encode(' -')[0], this.encode(" '")[0]]);
    for (const symbol of [...symbols, ...miscellaneous]) {
      for (const tokens of [this.encode(symbol), this.encode(' ' + symbol)]) {
        if (tokens.length === 1 || miscellaneous.has(symbol)) result.add(tokens[0]);
      }
    }
    this.#nonSpeech = Object.freeze([...result].sort((a, b) => a - b));
    return this.#nonSpeech;
  }

  /**
   * Groups tokens into words for word timestamps (openai split_to_word_tokens): at unicode boundaries for
   * languages written without spaces (zh, ja, th, lo, my, yue), else at spaces and punctuation.
   */
  splitToWordTokens(tokens: readonly number[], language: string | undefined): WordTokens {
    const decode = (ids: readonly number[]): string => this.decodeWithTimestamps(ids);
    if (language !== undefined && UNSPACED_LANGUAGES.has(language)) return splitTokensOnUnicode(tokens, decode);
    return splitTokensOnSpaces(tokens, decode, this.eot);
  }
}

/** "x.xx" of timestamp index i, computed on integers so it equals Python's f"{i * 0.02:.2f}". */
function timestampText(index: number): string {
  const centiseconds = index * 2;
  return `${Math.floor(centiseconds / 100)}.${String(centiseconds % 100).padStart(2, '0')}`;
}

async function readJson(dir: string, name: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MoxingError('TOKENIZER_INVALID', `cannot read ${path}: ${(error as Error).message}; the model folder needs the Whisper tokenizer files`, { cause: error });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new MoxingError('TOKENIZER_INVALID', `${path} is not valid JSON (${(error as Error).message}); download the model files again`, { cause: error });
  }
}

/** Reads the tokenizer files of a model folder (tokenizer.json, or vocab.json + added_tokens.json). */
export async function readWhisperTokenizerFiles(modelDir: string): Promise<WhisperTokenizerFiles> {
  const tokenizerJson = await readJson(modelDir, 'tokenizer.json', false);
  const addedTokens = await readJson(modelDir, 'added_tokens.json', false);
  const generationConfig = await readJson(modelDir, 'generation_config.json', false);
  const config = await readJson(modelDir, 'config.json', false);
  const model = tokenizerJson?.model as Record<string, unknown> | undefined;
  let vocab = model?.vocab as Record<string, number> | undefined;
  if (tokenizerJson !== undefined && (vocab === undefined || typeof vocab !== 'object')) {
    throw new MoxingError('TOKENIZER_INVALID', `${join(modelDir, 'tokenizer.json')} has no model.vocab; it must be a BPE tokenizer.json of a Whisper export`);
  }
  vocab ??= (await readJson(modelDir, 'vocab.json', false)) as Record<string, number> | undefined;
  if (vocab === undefined) {
    throw new MoxingError('TOKENIZER_INVALID', `${modelDir} has neither tokenizer.json nor vocab.json; download the model's tokenizer files`);
  }
  const specialTokens = new Map<string, number>();
  for (const [content, id] of Object.entries(addedTokens ?? {})) {
    if (typeof id === 'number') specialTokens.set(content, id);
  }
  const added = tokenizerJson?.added_tokens;
  if (Array.isArray(added)) {
    for (const token of added as { content?: unknown; id?: unknown }[]) {
      if (typeof token.content === 'string' && typeof token.id === 'number') specialTokens.set(token.content, token.id);
    }
  }
  return { vocab, specialTokens, generationConfig, config };
}

const TOKENIZER_FILES = ['tokenizer.json', 'added_tokens.json', 'generation_config.json', 'config.json', 'vocab.json'] as const;
/** The tokenizers loaded last, by folder and file versions: most recent last. */
const recentTokenizers = new Map<string, Promise<WhisperTokenizer>>();
const RECENT_TOKENIZERS = 4;

/**
 * Loads the Whisper tokenizer of a model folder. A folder loaded again with the same files (a model the server's
 * pool loads again, a model with and without its timestamped decoder) gets the same tokenizer: it is immutable,
 * and building one (a 2 MB JSON parse and 50,000 vocabulary entries) costs about as much as loading the
 * model's ONNX sessions.
 */
export function loadWhisperTokenizer(modelDir: string): Promise<WhisperTokenizer> {
  const key = JSON.stringify([resolve(modelDir), ...TOKENIZER_FILES.map((name) => fileVersion(join(modelDir, name)))]);
  let loading = recentTokenizers.get(key);
  if (loading) recentTokenizers.delete(key);
  else {
    loading = readWhisperTokenizerFiles(modelDir).then((files) => new WhisperTokenizer(files, `the tokenizer files in ${modelDir}`));
    // A failed load is not kept: the next call reads the files again.
    loading.catch(() => recentTokenizers.delete(key));
  }
  recentTokenizers.set(key, loading);
  if (recentTokenizers.size > RECENT_TOKENIZERS) recentTokenizers.delete(recentTokenizers.keys().next().value!);
  return loading;
}

/** Size and modification time of a file, or null when it is absent: a file replaced in place is read again. */
function fileVersion(path: string): [number, number] | null {
  const stats = statSync(path, { throwIfNoEntry: false });
  return stats ? [stats.size, stats.mtimeMs] : null;
}
