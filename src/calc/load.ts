/**
 * Turns what a user types (a preset name, a config.json path, a folder holding one, a hub repo id) into an
 * Architecture. The synchronous path never touches the network; `loadArchitecture` also fetches a hub
 * model's config.json through the hub cache.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MoxingError } from '../errors.js';
import { catalogEntry, parseModelRef, resolveModel, type HubOptions } from '../hub/index.js';
import type { Architecture } from './architecture.js';
import { architectureFromHfConfig } from './hf-config.js';
import { countParameters, type ModelSummary } from './params.js';
import { MODEL_PRESET_IDS, modelPreset } from './presets.js';

function kindOf(path: string): 'file' | 'dir' | undefined {
  try {
    const stat = statSync(path);
    return stat.isDirectory() ? 'dir' : stat.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

/** Reads and parses a config.json file. */
export function architectureFromFile(path: string): Architecture {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MoxingError('FILE_NOT_FOUND', `cannot read model config "${path}": ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MoxingError('CONFIG_INVALID', `${path}: not valid JSON (${(error as Error).message}); give a Hugging Face config.json`, { cause: error });
  }
  return architectureFromHfConfig(json, path);
}

/**
 * Resolves `model`: an Architecture object is returned as is; a string is a preset name, a config.json
 * path, or a folder with a config.json in it.
 */
export function resolveArchitecture(model: string | Architecture): Architecture {
  if (typeof model !== 'string') return model;
  const preset = modelPreset(model);
  if (preset) return preset;
  const kind = kindOf(model);
  if (kind === 'file') return architectureFromFile(model);
  if (kind === 'dir') {
    const config = join(model, 'config.json');
    if (kindOf(config) !== 'file') throw new MoxingError('FILE_NOT_FOUND', `folder "${model}" has no config.json; point --model at a Hugging Face model folder or its config.json`);
    return architectureFromFile(config);
  }
  throw unknownModel(model);
}

function unknownModel(model: string): MoxingError {
  return new MoxingError(
    'MODEL_UNKNOWN',
    `unknown model "${model}": not a preset, a config.json file, a folder holding one or a hub id owner/name; presets: ${MODEL_PRESET_IDS.join(', ')}`,
  );
}

/**
 * Like `resolveArchitecture`, and a hub repo id (`owner/name[@revision]`) or hub catalogue alias fetches that repo's config.json
 * into the hub cache (or reads it from there; offline mode applies).
 */
export async function loadArchitecture(model: string | Architecture, hub: Partial<HubOptions> = {}): Promise<Architecture> {
  if (typeof model !== 'string' || modelPreset(model) || kindOf(model)) return resolveArchitecture(model);
  // Only hub ids and the hub catalogue's aliases (e.g. whisper-tiny.en) go to the hub.
  if (!model.includes('/') && !catalogEntry(model.split('@')[0])) throw unknownModel(model);
  const ref = parseModelRef(model);
  const dir = await resolveModel(ref, { ...hub, files: ['config.json'] });
  return architectureFromFile(join(dir, 'config.json'));
}

/** A model reference, an Architecture or an already computed summary → the summary the cost math uses. */
export function summarizeModel(model: string | Architecture | ModelSummary): ModelSummary {
  return typeof model !== 'string' && 'breakdown' in model ? model : countParameters(resolveArchitecture(model));
}
