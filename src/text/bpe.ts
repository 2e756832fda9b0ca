/**
 * Byte-level BPE as openai/whisper runs it through tiktoken: split with the GPT-2 regex, then merge bytes by
 * lowest rank, where the rank of a byte sequence is its token id. Merging by vocabulary rank (not by the
 * merges.txt list) is what tiktoken does, so this reproduces openai's ids exactly.
 */
import { MoxingError } from '../errors.js';

/**
 * The GPT-2 split pattern of tiktoken (`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`).
 * `\s` is spelled `\p{White_Space}` because tiktoken's Rust regex uses Unicode White_Space (it has U+0085 and
 * lacks U+FEFF), while JavaScript's `\s` differs on exactly those two.
 */
export const GPT2_SPLIT_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

/** GPT-2's reversible byte -> printable character table (bytes_to_unicode). */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + extra++);
  }
  return table;
}

const BYTE_TO_CHAR = bytesToUnicode();
const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((ch, b) => [ch, b]));
const UTF8 = new TextEncoder();

/** Converts a vocabulary entry (byte-level characters) to its bytes; undefined if it is not byte-level text. */
export function vocabEntryBytes(entry: string): Uint8Array | undefined {
  const bytes = new Uint8Array(entry.length);
  for (let i = 0; i < entry.length; i++) {
    const b = CHAR_TO_BYTE.get(entry[i]);
    if (b === undefined) return undefined;
    bytes[i] = b;
  }
  return bytes;
}

/** Pieces cached before the cache is cleared; prompts and hotwords repeat the same words. */
const CACHE_LIMIT = 100_000;

export class ByteLevelBpe {
  /** byte-level string -> rank (= token id) of every mergeable token. */
  readonly #ranks: ReadonlyMap<string, number>;
  readonly #cache = new Map<string, readonly number[]>();

  constructor(ranks: ReadonlyMap<string, number>) {
    this.#ranks = ranks;
  }

  /** Token ids of `text`, with no special tokens; special-token text such as `<|en|>` is encoded as plain text. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const match of text.matchAll(GPT2_SPLIT_PATTERN)) {
      for (const id of this.#encodePiece(match[0])) ids.push(id);
    }
    return ids;
  }

  #encodePiece(piece: string): readonly number[] {
    const cached = this.#cache.get(piece);
    if (cached !== undefined) return cached;
    let chars = '';
    for (const b of UTF8.encode(piece)) chars += BYTE_TO_CHAR[b];
    const whole = this.#ranks.get(chars);
    const ids = whole !== undefined ? [whole] : this.#merge(chars);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(piece, ids);
    return ids;
  }

  /** tiktoken's byte_pair_merge: repeatedly join the adjacent pair whose bytes have the lowest rank (first on ties). */
  #merge(chars: string): number[] {
    const bounds: number[] = [];
    for (let i = 0; i <= chars.length; i++) bounds.push(i);
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 2 < bounds.length; i++) {
        const rank = this.#ranks.get(chars.slice(bounds[i], bounds[i + 2]));
        if (rank !== undefined && rank < best) {
          best = rank;
          at = i;
        }
      }
      if (at < 0) break;
      bounds.splice(at + 1, 1);
    }
    const ids: number[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const id = this.#ranks.get(chars.slice(bounds[i], bounds[i + 1]));
      // Every single byte has a rank in a byte-level vocabulary; a miss means the vocabulary is not one.
      if (id === undefined) {
        throw new MoxingError(
          'TOKENIZER_INVALID',
          `the vocabulary has no token for the byte sequence ${JSON.stringify(chars.slice(bounds[i], bounds[i + 1]))}, so it is not a complete byte-level BPE vocabulary; use the tokenizer.json of a Whisper export`,
        );
      }
      ids.push(id);
    }
    return ids;
  }
}
