/**
 * q4 loading: MatMulNBits nodes rewritten to `accuracy_level = 4` before the session is made, so ORT quantizes
 * the activations to int8 and runs integer kernels on the same 4-bit weights (about 2× the decode speed of
 * level 0 on CPU; bench/chat.ts measures it and the logit change).
 *
 * When every MatMulNBits carries a 1-byte accuracy_level (as the exports and our quantizer write it), the file is
 * copied by the file system into a temporary folder and those bytes are patched in place: ORT then loads the copy
 * as it loads any file, and no JavaScript copy of the weights exists (the decode-edit-encode round trip held them
 * two to three times over and doubled the peak RSS of a q4 chat model). Other files go through that round trip,
 * when they keep their weights inside the .onnx file; one with `_data` companions and no patchable level loads
 * as it is.
 */
import { constants, openSync, closeSync, writeSync, statSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { siblingFolder } from './graph-rewrite.js';
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { loadSession, loadSessionFromBytes, loadSessionFromTemporaryFile, type RuntimeOptions, type TemporaryModel } from '../runtime/index.js';
import { decodeModel, encodeModel, graphsOf, onnx, type GraphProto, type ModelProto } from '../runtime/onnx/index.js';
import { scanIntAttribute, type AttributeSite } from '../runtime/onnx/attribute-scan.js';

export interface AccuracyRewrite {
  readonly bytes: Uint8Array;
  /** MatMulNBits nodes whose level changed. */
  readonly rewritten: number;
}

function hasExternalData(model: ModelProto): boolean {
  for (const graph of graphsOf(model.graph as GraphProto)) {
    for (const t of graph.initializer ?? []) if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return true;
  }
  return false;
}

function checkLevel(level: number): void {
  if (![0, 1, 2, 3, 4].includes(level)) throw new MoxingError('BAD_ARGUMENT', `the MatMulNBits accuracy level must be 0 to 4, got ${level}`);
}

/** The MatMulNBits nodes of the file at `path` and where their accuracy_level lies. */
export function accuracyLevelSites(path: string): AttributeSite[] {
  try {
    return scanIntAttribute(path, 'MatMulNBits', 'accuracy_level', statSync(path).size);
  } catch (cause) {
    if (cause instanceof MoxingError) throw new MoxingError('MODEL_INVALID', `${path} is not an ONNX model: ${cause.message}`, { cause });
    throw cause;
  }
}

/**
 * A copy of the model at `path` in a temporary folder with every MatMulNBits at `level`, patched in place (its
 * sibling files, external data included, are linked beside it); undefined when some node has no 1-byte
 * accuracy_level to patch, or the siblings cannot be linked.
 */
export async function accuracyLevelCopy(path: string, level: number, sites = accuracyLevelSites(path)): Promise<(TemporaryModel & { rewritten: number }) | undefined> {
  checkLevel(level);
  if (sites.some((s) => s.offset === undefined || s.length !== 1)) return undefined;
  const folder = await siblingFolder(path);
  if (!folder) return undefined;
  const { copy, cleanup } = folder;
  try {
    await copyFile(path, copy, constants.COPYFILE_FICLONE);
    const changed = sites.filter((s) => s.value !== level);
    const fd = openSync(copy, 'r+');
    try {
      for (const site of changed) writeSync(fd, Uint8Array.of(level), 0, 1, site.offset);
    } finally {
      closeSync(fd);
    }
    return { path: copy, cleanup, rewritten: changed.length };
  } catch (cause) {
    await cleanup();
    throw cause;
  }
}

/**
 * A session of the q4 model at `path` with every MatMulNBits at `level`: the file itself when it already is, else
 * a patched copy (accuracyLevelCopy), else the decode-edit-encode rewrite (withAccuracyLevel), else the file as
 * it is (external data and no patchable level).
 */
export async function loadAtAccuracyLevel(path: string, level: number, runtime?: RuntimeOptions): Promise<InferenceSession> {
  checkLevel(level);
  const sites = accuracyLevelSites(path);
  if (sites.every((s) => (s.value ?? 0) === level)) return loadSession(path, runtime);
  const key = `${resolvePath(path)}#accuracy_level=${level}`;
  if (sites.every((s) => s.offset !== undefined && s.length === 1)) {
    // Where the folder's files cannot be linked into a temporary one, the file loads at its own level.
    return loadSessionFromTemporaryFile(key, async () => (await accuracyLevelCopy(path, level, sites)) ?? { path, cleanup: async () => undefined }, runtime);
  }
  const rewrite = await withAccuracyLevel(path, level);
  return rewrite ? loadSessionFromBytes(key, () => rewrite.bytes, runtime) : loadSession(path, runtime);
}

/** The model at `path` with every MatMulNBits at `level`, or undefined when it holds external data. */
export async function withAccuracyLevel(path: string, level: number): Promise<AccuracyRewrite | undefined> {
  checkLevel(level);
  let model: ModelProto;
  try {
    model = decodeModel(await readFile(path));
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `${path} is not an ONNX model: ${(cause as Error).message}`, { cause });
  }
  if (hasExternalData(model)) return undefined;
  let rewritten = 0;
  for (const graph of graphsOf(model.graph as GraphProto)) {
    for (const n of graph.node ?? []) {
      if (n.opType !== 'MatMulNBits') continue;
      const attributes = (n.attribute ?? []).filter((a) => a.name !== 'accuracy_level');
      const old = (n.attribute ?? []).find((a) => a.name === 'accuracy_level');
      if (Number(old?.i ?? 0) !== level) rewritten++;
      attributes.push({ name: 'accuracy_level', type: onnx.AttributeProto.AttributeType.INT, i: level });
      n.attribute = attributes;
    }
  }
  return { bytes: encodeModel(model), rewritten };
}
