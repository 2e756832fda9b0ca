/**
 * Models that are one ONNX graph (vision encoders, the VAD): `onnx/model<suffix>.onnx` in a hub repo, and in a
 * local folder either there (the hub layout) or at the folder's top.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MoxingError } from '../errors.js';
import type { ModelLoadOptions } from './load-options.js';
import { parseModelRef } from './reference.js';
import { resolveModel } from './resolve.js';
import { DEFAULT_VARIANT, onnxFile } from './variants.js';

export interface OnnxGraphOptions extends Pick<ModelLoadOptions, 'variant' | 'hub'> {
  /** Further repo files the model needs beside its graph (config.json). @default [] */
  readonly files?: readonly string[];
  /** Repo files fetched when the repo has them. @default [] */
  readonly optionalFiles?: readonly string[];
}

/** A single-graph model's folder, its graph file, and a stable id (the reference; the absolute folder for local models). */
export interface OnnxGraphLocation {
  readonly dir: string;
  readonly onnxPath: string;
  readonly id: string;
}

/** Finds (or fetches into the hub cache) the graph of the model `ref` names: alias, hub id or folder. */
export async function resolveOnnxGraph(ref: string, options: OnnxGraphOptions = {}): Promise<OnnxGraphLocation> {
  const variant = options.variant ?? DEFAULT_VARIANT;
  const file = onnxFile('onnx/model', variant);
  const parsed = parseModelRef(ref);
  if (parsed.kind === 'local') {
    const top = file.replace(/^onnx\//, '');
    const onnxPath = [file, top].map((f) => join(parsed.dir, f)).find((p) => existsSync(p));
    if (!onnxPath) throw new MoxingError('MODEL_INVALID', `the model folder ${parsed.dir} has no ${file} (nor ${top}); export the model to ONNX or pick another --variant`);
    return { dir: parsed.dir, onnxPath, id: parsed.dir };
  }
  const dir = await resolveModel(parsed, {
    ...options.hub,
    files: [...(options.files ?? []), file],
    optionalFiles: options.optionalFiles ?? [],
    pullArgs: variant === DEFAULT_VARIANT ? undefined : `--variant ${variant}`,
  });
  return { dir, onnxPath: join(dir, file), id: ref };
}
