/**
 * A minimal byte-level BPE encoder (GPT-2 style) over a `vocab.json` + `merges.txt` pair, enough to derive
 * Whisper's non-speech token set for a vocabulary the way openai/whisper's `Tokenizer.non_speech_tokens` does.
 * Test-only: it is slow (no cache) and meant for a few dozen short strings.
 */

/** GPT-2's reversible byte → printable character map. */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    map[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return map;
}

export const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export class ByteLevelBpe {
  private readonly ranks = new Map<string, number>();
  private readonly bytes = byteToUnicode();

  /** `merges` are the lines of merges.txt without the `#version` header ("Ġ t" …). */
  constructor(
    private readonly vocab: Readonly<Record<string, number>>,
    merges: readonly string[],
  ) {
    merges.forEach((line, rank) => this.ranks.set(line, rank));
  }

  /** Token ids of `text` (no special tokens). */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of text.match(PRETOKENIZE) ?? []) {
      let symbols = Array.from(new TextEncoder().encode(piece), (b) => this.bytes[b]);
      for (;;) {
        let best = -1;
        let bestRank = Infinity;
        for (let i = 0; i + 1 < symbols.length; i++) {
          const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
          if (rank !== undefined && rank < bestRank) {
            bestRank = rank;
            best = i;
          }
        }
        if (best < 0) break;
        symbols = [...symbols.slice(0, best), symbols[best] + symbols[best + 1], ...symbols.slice(best + 2)];
      }
      for (const s of symbols) {
        const id = this.vocab[s];
        if (id === undefined) throw new Error(`BPE symbol ${JSON.stringify(s)} is not in the vocabulary`);
        ids.push(id);
      }
    }
    return ids;
  }
}

/** Reads merges.txt text into merge lines (skips the `#version` header and blank lines). */
export function parseMerges(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0 && !line.startsWith('#version'));
}

/**
 * openai/whisper's non-speech tokens: symbols and their space-prefixed forms that encode to one token (any first
 * token for the musical signs), plus " -" and " '". Sorted ascending.
 */
export function nonSpeechTokens(bpe: ByteLevelBpe): number[] {
  const symbols = [...'"#()*+/:;<=>@[\\]^_`{|}~「」『』'];
  symbols.push(...'<< >> <<< >>> -- --- -( -[ (\' (" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪'.split(' '));
  const miscellaneous = [...'♩♪♫♬♭♮♯'];
  const result = new Set([bpe.encode(' -')[0], bpe.encode(" '")[0]]);
  for (const symbol of [...symbols, ...miscellaneous]) {
    for (const tokens of [bpe.encode(symbol), bpe.encode(` ${symbol}`)]) {
      if (tokens.length === 1 || miscellaneous.includes(symbol)) result.add(tokens[0]);
    }
  }
  return [...result].sort((a, b) => a - b);
}
