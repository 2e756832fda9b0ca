/**
 * The custom metadata (`metadata_props`) of an ONNX file, which ONNX Runtime's JS API does not expose: the
 * speaker models carry their front-end settings there (sherpa-onnx's export scripts write them).
 */
import { readFile } from 'node:fs/promises';
import { MoxingError } from '../errors.js';

/** Key → value of a model's metadata_props. */
export async function readOnnxMetadata(path: string): Promise<Record<string, string>> {
  const { decodeModel } = await import('../runtime/onnx/index.js');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `model file not found: ${path}`, { cause });
  }
  let props: { key?: string | null; value?: string | null }[];
  try {
    props = decodeModel(bytes).metadataProps ?? [];
  } catch (cause) {
    throw new MoxingError('MODEL_INVALID', `${path} is not an ONNX model: ${(cause as Error).message}`, { cause });
  }
  const out: Record<string, string> = {};
  for (const p of props) if (p.key) out[p.key] = p.value ?? '';
  return out;
}

/** An integer metadata field, or a MODEL_INVALID error naming the file, the key and what the model must carry. */
export function intField(metadata: Record<string, string>, key: string, what: string): number {
  const raw = metadata[key];
  const value = raw === undefined ? NaN : Number(raw);
  if (!Number.isInteger(value)) {
    throw new MoxingError('MODEL_INVALID', `${what}: metadata "${key}" is ${raw === undefined ? 'missing' : `"${raw}", not an integer`} (sherpa-onnx's export scripts write it)`);
  }
  return value;
}
