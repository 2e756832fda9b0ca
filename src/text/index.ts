export {
  WhisperTokenizer,
  loadWhisperTokenizer,
  readWhisperTokenizerFiles,
  TIMESTAMP_STEP_S,
} from './whisper-tokenizer.js';
export type { WhisperTask, LanguageToken, WhisperTokenizerFiles } from './whisper-tokenizer.js';
export { LANGUAGES, TO_LANGUAGE_CODE, toLanguageCode } from './languages.js';
export type { LanguageCode } from './languages.js';
export { ByteLevelBpe, GPT2_SPLIT_PATTERN, bytesToUnicode } from './bpe.js';
export { splitTokensOnUnicode, splitTokensOnSpaces } from './word-split.js';
export { pyRound, pyStrip, pyLen, pyFloat, pyString, lastItems } from './python.js';
export type { WordTokens } from './word-split.js';
export { compressionRatio } from './compression.js';
export { zlibCompressedLength } from './zlib-size.js';
