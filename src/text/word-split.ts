/**
 * Grouping of token ids into words for word-level timestamps, as openai/whisper's
 * `split_tokens_on_unicode` and `split_tokens_on_spaces` do it.
 */
import { pyStrip } from './python.js';

/** Words and the token ids of each (parallel arrays). */
export interface WordTokens {
  readonly words: string[];
  readonly wordTokens: number[][];
}

/** Python's string.punctuation; openai tests `word.strip() in string.punctuation`, a substring test. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const REPLACEMENT = '\ufffd';

/**
 * Splits wherever the tokens so far decode to whole characters: a token that ends inside a multi-byte
 * character is kept with the next ones until the character is complete.
 */
export function splitTokensOnUnicode(tokens: readonly number[], decode: (ids: readonly number[]) => string): WordTokens {
  const decodedFull = decode(tokens);
  const words: string[] = [];
  const wordTokens: number[][] = [];
  let current: number[] = [];
  let offset = 0;
  for (const token of tokens) {
    current.push(token);
    const decoded = decode(current);
    const bad = decoded.indexOf(REPLACEMENT);
    // A U+FFFD that is also in the full text is a real one, not a cut character.
    if (bad < 0 || decodedFull[offset + bad] === REPLACEMENT) {
      words.push(decoded);
      wordTokens.push(current);
      current = [];
      offset += decoded.length;
    }
  }
  return { words, wordTokens };
}

/** Unicode subwords joined into words: a new word starts at a special token, a leading space or punctuation. */
export function splitTokensOnSpaces(tokens: readonly number[], decode: (ids: readonly number[]) => string, eot: number): WordTokens {
  const subwords = splitTokensOnUnicode(tokens, decode);
  const words: string[] = [];
  const wordTokens: number[][] = [];
  subwords.words.forEach((subword, i) => {
    const subwordTokens = subwords.wordTokens[i];
    const special = subwordTokens[0] >= eot;
    const withSpace = subword.startsWith(' ');
    const punctuation = PUNCTUATION.includes(pyStrip(subword));
    if (special || withSpace || punctuation || words.length === 0) {
      words.push(subword);
      wordTokens.push([...subwordTokens]);
    } else {
      words[words.length - 1] += subword;
      wordTokens[wordTokens.length - 1].push(...subwordTokens);
    }
  });
  return { words, wordTokens };
}
