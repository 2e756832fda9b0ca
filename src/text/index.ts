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
export { splitTokensOnUnicode, splitTokensOnSpaces, pyStrip } from './word-split.js';
export type { WordTokens } from './word-split.js';
export { compressionRatio } from './compression.js';
export { zlibCompressedLength } from './zlib-size.js';
