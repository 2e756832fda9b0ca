/**
 * CTC models by reference: a folder, a catalogue alias or a hub id, like every other model. `loadAligner` is
 * WhisperX's `load_align_model`: a language's default aligner, or any CTC model given by reference.
 */
import { existsSync } from 'node:fs';
import { MoxingError } from '../../errors.js';
import {
  catalogEntryForRepo,
  DEFAULT_VARIANT,
  locateModel,
  parseModelRef,
  resolveModel,
  VARIANT_SUFFIXES,
  type ModelLoadOptions,
} from '../../hub/index.js';
import { toLanguageCode } from '../../text/index.js';
import { defaultAligner } from './aligners.js';
import { isCtcModelDir } from './config.js';
import { loadCtcModel, type CtcModel } from './model.js';

const CTC_OPTIONAL_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

export interface LoadCtcOptions extends ModelLoadOptions {
  /** MMS: the ISO 639-3 vocabulary of a multi-language export. @default tokenizer_config's target_lang */
  readonly language?: string;
}

/** The folder of a CTC export named by `ref`, fetched into the hub cache when it is not a folder. */
export async function resolveCtcModel(ref: string, options: ModelLoadOptions = {}): Promise<string> {
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'local') return parsed.dir;
  const variant = options.variant ?? DEFAULT_VARIANT;
  return resolveModel(parsed, {
    ...options.hub,
    files: [`onnx/model${VARIANT_SUFFIXES[variant]}.onnx`, 'vocab.json'],
    optionalFiles: CTC_OPTIONAL_FILES,
    pullArgs: variant === DEFAULT_VARIANT ? undefined : `--variant ${variant}`,
  });
}

/**
 * Whether `ref` names a CTC model rather than a Whisper: a folder holding a CTC export, a catalogue entry of
 * task ctc, or a hub model already cached as one. Nothing is downloaded to find out.
 */
export function isCtcModelRef(ref: string): boolean {
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'local') return isCtcModelDir(parsed.dir);
  const known = parsed.alias ?? catalogEntryForRepo(parsed.repo);
  if (known !== undefined) return known.task === 'ctc';
  const cached = locateModel(parsed).dir;
  return existsSync(cached) && isCtcModelDir(cached);
}

/** Loads a CTC model (wav2vec2, HuBERT, MMS) by reference. */
export async function loadCtc(ref: string, options: LoadCtcOptions = {}): Promise<CtcModel> {
  const dir = await resolveCtcModel(ref, options);
  const fileSuffix = VARIANT_SUFFIXES[options.variant ?? DEFAULT_VARIANT];
  return loadCtcModel(dir, { ...options.runtime, fileSuffix, ...(options.language ? { language: options.language } : {}) });
}

/** The reference of the aligner `languageOrRef` names: a language's default ONNX aligner, or the reference itself. */
export function alignerRef(languageOrRef: string): string {
  // A language: a name or code Whisper knows, or any bare 2-3 letter code (MMS's ISO 639-3 "fra"), unless a folder.
  const language = existsSync(languageOrRef) ? undefined : (toLanguageCode(languageOrRef) ?? (/^[a-z]{2,3}$/.test(languageOrRef) ? languageOrRef : undefined));
  if (language === undefined) return languageOrRef;
  const entry = defaultAligner(language);
  if (!entry.onnx) {
    throw new MoxingError(
      'BAD_ARGUMENT',
      `the default aligner for "${language}" is ${entry.model}, which has no known ONNX export: ` +
        `export it (optimum-cli export onnx --model ${entry.model} DIR) and give that folder as the aligner (--align-model DIR)`,
    );
  }
  return entry.onnx;
}

/** WhisperX's `load_align_model`: the aligner for a language (code or name), or a CTC model by reference. */
export function loadAligner(languageOrRef: string, options: ModelLoadOptions = {}): Promise<CtcModel> {
  return loadCtc(alignerRef(languageOrRef), options);
}
