/**
 * What a wav2vec2 / HuBERT / WavLM / MMS CTC export folder tells us: the ONNX file, the vocabulary (id → token,
 * blank, word delimiter, special tokens), the feature extractor's normalisation, and the conv stack's geometry
 * (samples per logit frame), as transformers' `Wav2Vec2Processor` and `Wav2Vec2ForCTC` read them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MoxingError } from '../../errors.js';

/** wav2vec2's feature encoder (every released wav2vec2 / HuBERT / MMS checkpoint uses it). */
export const WAV2VEC2_CONV_KERNEL: readonly number[] = Object.freeze([10, 3, 3, 3, 3, 2, 2]);
export const WAV2VEC2_CONV_STRIDE: readonly number[] = Object.freeze([5, 2, 2, 2, 2, 2, 2]);

export interface CtcVocabulary {
  /** Token text by id (empty string for ids the vocab does not name). */
  readonly tokens: readonly string[];
  /** Id by token text. */
  readonly ids: ReadonlyMap<string, number>;
  /** The CTC blank: the tokenizer's pad token. */
  readonly blankId: number;
  /** Id of the word delimiter (`|`), or -1 when the vocab has none (character languages). */
  readonly delimiterId: number;
  /** Special tokens (pad, bos, eos, unk and added `<...>`/`[...]` tokens) dropped from decoded text. */
  readonly specialIds: ReadonlySet<number>;
  /** MMS: the language whose vocabulary was picked from a multi-language vocab.json. */
  readonly language?: string;
}

export interface CtcModelConfig {
  readonly dir: string;
  /** Path of the ONNX file. */
  readonly modelPath: string;
  readonly vocab: CtcVocabulary;
  /** Zero-mean/unit-variance normalisation of each model input (`do_normalize`). */
  readonly doNormalize: boolean;
  readonly samplingRate: number;
  readonly convKernel: readonly number[];
  readonly convStride: readonly number[];
  /** Input samples per logit frame (product of the conv strides: 320 = 20 ms at 16 kHz). */
  readonly frameSamples: number;
  /** Samples one logit frame sees through the conv stack (400 for wav2vec2). */
  readonly receptiveSamples: number;
  /** `model_type` from config.json (wav2vec2, hubert, wavlm, ...). */
  readonly modelType: string;
}

/** Number of logit frames the conv stack makes from `samples` input samples (0 when too short). */
export function framesForSamples(samples: number, kernel: readonly number[], stride: readonly number[]): number {
  let n = samples;
  for (let i = 0; i < kernel.length; i++) {
    if (n < kernel[i]) return 0;
    n = Math.floor((n - kernel[i]) / stride[i]) + 1;
  }
  return n;
}

function readJson(path: string, required: boolean): Record<string, unknown> | undefined {
  if (!existsSync(path)) {
    if (required) throw new MoxingError('MODEL_INVALID', `the CTC model folder has no ${path}: a wav2vec2/MMS export needs it next to model.onnx`);
    return undefined;
  }
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new MoxingError('CONFIG_INVALID', `${path} is not a valid JSON object: ${(cause as Error).message}`, { cause });
  }
}

function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** Whether `dir` looks like a CTC export (vocab.json plus a model.onnx, and no Whisper decoder). */
export function isCtcModelDir(dir: string): boolean {
  return existsSync(join(dir, 'vocab.json')) && findModelFile(dir) !== undefined && !existsSync(join(dir, 'onnx', 'decoder_model_merged.onnx'));
}

/** The model file of an export: `onnx/model{suffix}.onnx`, else `model{suffix}.onnx`. */
export function findModelFile(dir: string, suffix = ''): string | undefined {
  for (const candidate of [join(dir, 'onnx', `model${suffix}.onnx`), join(dir, `model${suffix}.onnx`)]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface LoadCtcConfigOptions {
  /** MMS: ISO 639-3 code of the vocabulary to use from a multi-language vocab.json. @default tokenizer_config's target_lang */
  language?: string;
  /** File suffix of the weight variant ('' fp32, '_quantized' q8, '_fp16', '_q4'). @default '' */
  fileSuffix?: string;
}

/** Reads an export folder's configs. Errors name the missing or malformed file. */
export function loadCtcConfig(dir: string, options: LoadCtcConfigOptions = {}): CtcModelConfig {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new MoxingError('FILE_NOT_FOUND', `CTC model folder not found: ${dir} (give a folder with model.onnx or onnx/model.onnx and vocab.json)`);
  }
  const suffix = options.fileSuffix ?? '';
  const modelPath = findModelFile(dir, suffix);
  if (!modelPath) {
    throw new MoxingError('MODEL_INVALID', `no onnx/model${suffix}.onnx or model${suffix}.onnx in ${dir}: export the CTC model to ONNX first (e.g. optimum-cli export onnx --model facebook/wav2vec2-base-960h)`);
  }
  const config = readJson(join(dir, 'config.json'), false) ?? {};
  const preprocessor = readJson(join(dir, 'preprocessor_config.json'), false) ?? {};
  const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
  const specialMap = readJson(join(dir, 'special_tokens_map.json'), false) ?? {};
  const added = readJson(join(dir, 'added_tokens.json'), false) ?? {};
  const vocab = buildVocabulary(readJson(join(dir, 'vocab.json'), true)!, config, tokenizerConfig, specialMap, added, options.language, dir);

  const convKernel = numberArray(config.conv_kernel) ?? WAV2VEC2_CONV_KERNEL;
  const convStride = numberArray(config.conv_stride) ?? WAV2VEC2_CONV_STRIDE;
  if (convKernel.length !== convStride.length || convKernel.length === 0) {
    throw new MoxingError('CONFIG_INVALID', `${join(dir, 'config.json')}: conv_kernel and conv_stride must be non-empty lists of the same length`);
  }
  let receptive = 1;
  for (let i = convKernel.length - 1; i >= 0; i--) receptive = (receptive - 1) * convStride[i] + convKernel[i];
  return {
    dir,
    modelPath,
    vocab,
    doNormalize: preprocessor.do_normalize !== false,
    samplingRate: typeof preprocessor.sampling_rate === 'number' ? preprocessor.sampling_rate : 16000,
    convKernel,
    convStride,
    frameSamples: convStride.reduce((a, b) => a * b, 1),
    receptiveSamples: receptive,
    modelType: typeof config.model_type === 'string' ? config.model_type : 'wav2vec2',
  };
}

function numberArray(value: unknown): number[] | undefined {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v) && v > 0) ? (value as number[]) : undefined;
}

function buildVocabulary(
  raw: Record<string, unknown>,
  config: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
  specialMap: Record<string, unknown>,
  added: Record<string, unknown>,
  language: string | undefined,
  dir: string,
): CtcVocabulary {
  let table = raw;
  let picked: string | undefined;
  const nested = Object.values(raw).length > 0 && Object.values(raw).every((v) => typeof v === 'object' && v !== null);
  if (nested) {
    // MMS-1b-all style: { "eng": { "<pad>": 0, ... }, "fra": { ... } }
    picked = language ?? (typeof tokenizerConfig.target_lang === 'string' ? tokenizerConfig.target_lang : undefined);
    const languages = Object.keys(raw);
    if (!picked || !(picked in raw)) {
      throw new MoxingError(
        'BAD_ARGUMENT',
        `${join(dir, 'vocab.json')} holds vocabularies for ${languages.length} languages; ` +
          `${picked ? `"${picked}" is not one of them` : 'none was chosen'}. Pass the ISO 639-3 code of the language ` +
          `the export's adapter was loaded for (e.g. ${languages.slice(0, 5).join(', ')}).`,
      );
    }
    table = raw[picked] as Record<string, unknown>;
  }
  const ids = new Map<string, number>();
  for (const [token, id] of [...Object.entries(table), ...Object.entries(added)]) {
    if (Number.isInteger(id) && (id as number) >= 0) ids.set(token, id as number);
  }
  if (ids.size === 0) throw new MoxingError('CONFIG_INVALID', `${join(dir, 'vocab.json')} maps no token to an id`);
  const size = Math.max(...ids.values()) + 1;
  const tokens = new Array<string>(size).fill('');
  for (const [token, id] of ids) tokens[id] = token;

  const named = (key: string): string | undefined => tokenName(tokenizerConfig[key]) ?? tokenName(specialMap[key]);
  const padToken = named('pad_token');
  let blankId = padToken !== undefined ? (ids.get(padToken) ?? -1) : -1;
  if (blankId < 0 && Number.isInteger(config.pad_token_id)) blankId = config.pad_token_id as number;
  if (blankId < 0) blankId = ids.get('<pad>') ?? ids.get('[PAD]') ?? 0;
  const delimiter = named('word_delimiter_token') ?? '|';
  const specialIds = new Set<number>([blankId]);
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const name = named(key);
    if (name !== undefined && ids.has(name)) specialIds.add(ids.get(name)!);
  }
  for (const [token, id] of ids) if (/^(<[^<>]+>|\[[A-Z]+\])$/.test(token)) specialIds.add(id);
  return { tokens, ids, blankId, delimiterId: ids.get(delimiter) ?? -1, specialIds, language: picked };
}
