/**
 * Turns what a user types (a preset name, a config.json path, a folder holding one, a hub repo id) into an
 * Architecture. The synchronous path never touches the network; `loadArchitecture` also fetches a hub
 * model's config.json through the hub cache.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MoxingError, quoteInput } from '../errors.js';
import { catalogEntry, parseHubRef, resolveModel, type HubOptions } from '../hub/index.js';
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

/** A Hugging Face config.json is a few kB; anything past this is not one (and would stall a reader). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Reads and parses a config.json file. */
export function architectureFromFile(path: string): Architecture {
  const size = kindOf(path) === 'file' ? statSync(path).size : undefined;
  if (size !== undefined && size > MAX_CONFIG_BYTES) {
    throw new MoxingError('CONFIG_INVALID', `${path} has ${size} bytes, more than a config.json can (${MAX_CONFIG_BYTES}); give a Hugging Face config.json`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MoxingError('FILE_NOT_FOUND', `cannot read model config "${path}": ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // JSON.parse's message quotes the text it choked on: never pass a file's content on.
    throw new MoxingError('CONFIG_INVALID', `${path}: not valid JSON; give a Hugging Face config.json`, { cause: error });
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
    `unknown model ${quoteInput(model)}: not a preset, a config.json file, a folder holding one or a hub id owner/name; presets: ${MODEL_PRESET_IDS.join(', ')}`,
  );
}

/**
 * Like `resolveArchitecture`, and a hub repo id (`owner/name[@revision]`) or hub catalogue alias fetches that repo's config.json
 * into the hub cache (or reads it from there; offline mode applies).
 */
export async function loadArchitecture(model: string | Architecture, hub: Partial<HubOptions> = {}): Promise<Architecture> {
  if (typeof model !== 'string' || modelPreset(model) || kindOf(model)) return resolveArchitecture(model);
  return loadHubArchitecture(model, hub);
}

/**
 * A hub repo id or catalogue alias → its config.json through the hub cache, never a local path: what a
 * server may do with a reference it did not choose. The download is capped at MAX_CONFIG_BYTES.
 */
export async function loadHubArchitecture(model: string, hub: Partial<HubOptions> = {}): Promise<Architecture> {
  // Only hub ids and the hub catalogue's aliases (e.g. whisper-tiny.en) go to the hub.
  if (!model.includes('/') && !catalogEntry(model.split('@')[0])) throw unknownModel(model);
  const ref = parseHubRef(model);
  const maxFileBytes = Math.min(hub.maxFileBytes ?? MAX_CONFIG_BYTES, MAX_CONFIG_BYTES);
  const dir = await resolveModel(ref, { ...hub, maxFileBytes, files: ['config.json'] });
  return architectureFromFile(join(dir, 'config.json'));
}

/** A model reference, an Architecture or an already computed summary → the summary the cost math uses. */
export function summarizeModel(model: string | Architecture | ModelSummary): ModelSummary {
  return typeof model !== 'string' && 'breakdown' in model ? model : countParameters(resolveArchitecture(model));
}
