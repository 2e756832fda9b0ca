/**
 * Speaker model references, like every other model: a catalogue alias, a hub id `owner/name[@rev]` (its
 * `model.onnx`), a folder (its `model.onnx`, or its only `.onnx`), or an `.onnx` file. The aliases name the
 * sherpa-onnx exports on the Hugging Face hub.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MoxingError, quoteInput } from '../errors.js';
import { parseHubRef, resolveModel, type ModelLoadOptions } from '../hub/index.js';

export interface SpeakerModelEntry {
  readonly alias: string;
  readonly repo: string;
  readonly file: string;
  readonly kind: 'segmentation' | 'embedding';
  readonly description: string;
}

export const SPEAKER_MODELS: readonly SpeakerModelEntry[] = Object.freeze([
  { alias: 'pyannote-segmentation-3.0', repo: 'csukuangfj/sherpa-onnx-pyannote-segmentation-3-0', file: 'model.onnx', kind: 'segmentation', description: 'pyannote segmentation-3.0 (sherpa-onnx export), 3 local speakers per 10 s window' },
  { alias: 'wespeaker-resnet34', repo: 'csukuangfj/speaker-embedding-models', file: 'wespeaker_en_voxceleb_resnet34.onnx', kind: 'embedding', description: 'WeSpeaker ResNet34 trained on VoxCeleb, 256-d embeddings' },
  { alias: 'campplus', repo: 'csukuangfj/speaker-embedding-models', file: '3dspeaker_speech_campplus_sv_en_voxceleb_16k.onnx', kind: 'embedding', description: '3D-Speaker CAM++ trained on VoxCeleb, 192-d embeddings' },
]);

export const DEFAULT_SEGMENTATION_MODEL = 'pyannote-segmentation-3.0';
export const DEFAULT_EMBEDDING_MODEL = 'wespeaker-resnet34';

function onnxIn(dir: string): string {
  if (existsSync(join(dir, 'model.onnx'))) return join(dir, 'model.onnx');
  const found = readdirSync(dir).filter((f) => f.endsWith('.onnx') && !f.endsWith('.int8.onnx'));
  if (found.length !== 1) throw new MoxingError('MODEL_INVALID', `the folder ${dir} has no model.onnx and ${found.length === 0 ? 'no' : 'several'} .onnx files: give the .onnx file itself`);
  return join(dir, found[0]);
}

/** The local `.onnx` file `ref` names, fetched into the hub cache when it is an alias or a hub id. */
export async function resolveSpeakerModel(ref: string, kind: SpeakerModelEntry['kind'], options: ModelLoadOptions = {}): Promise<string> {
  const text = ref.trim();
  if (text.endsWith('.onnx') && existsSync(text) && statSync(text).isFile()) return resolve(text);
  if (existsSync(text) && statSync(text).isDirectory()) return onnxIn(resolve(text));
  const at = text.lastIndexOf('@');
  const name = (at > 0 ? text.slice(0, at) : text).toLowerCase();
  const entry = SPEAKER_MODELS.find((e) => e.alias === name);
  if (entry && entry.kind !== kind) throw new MoxingError('BAD_ARGUMENT', `${entry.alias} is a ${entry.kind} model, not a ${kind} model`);
  const variant = options.variant ?? 'fp32';
  if (variant !== 'fp32' && !(variant === 'q8' && (entry?.kind ?? kind) === 'segmentation')) {
    throw new MoxingError('BAD_ARGUMENT', `speaker ${kind} models come as fp32${kind === 'segmentation' ? ' and q8 (model.int8.onnx)' : ''} only, not ${variant}`);
  }
  const parsed = entry ? { kind: 'hub' as const, ref: text, repo: entry.repo, revision: at > 0 ? text.slice(at + 1) : undefined, alias: undefined } : parseHubRef(text);
  if (parsed.kind !== 'hub') throw new MoxingError('MODEL_UNKNOWN', `${quoteInput(ref)} is not a speaker model`);
  let file = entry?.file ?? 'model.onnx';
  if (variant === 'q8') file = file.replace(/\.onnx$/, '.int8.onnx');
  const dir = await resolveModel(parsed, { ...options.hub, files: [file], pullArgs: variant === 'fp32' ? undefined : `--variant ${variant}` });
  return join(dir, file);
}
