/**
 * Sentence-embedding pooling as sentence-transformers configures it: `modules.json` lists the modules (a
 * Transformer, a Pooling, often a Normalize) and `1_Pooling/config.json` picks the pooling mode. A folder without
 * those files gets mean pooling and normalisation, as transformers.js's feature-extraction callers ask for.
 */
import { join } from 'node:path';
import { MoxingError } from '../errors.js';
import { readJsonFile } from '../chat/tokenizer.js';

export type PoolingMode = 'mean' | 'cls';

export interface Pooling {
  mode: PoolingMode;
  normalize: boolean;
}

export const DEFAULT_POOLING: Readonly<Pooling> = Object.freeze({ mode: 'mean', normalize: true });

/** Files the pooling is read from, for the hub resolver. */
export const POOLING_FILES = ['modules.json', '1_Pooling/config.json'] as const;

export async function readPooling(dir: string): Promise<Pooling> {
  const modules = await readJsonFile(join(dir, 'modules.json'), false);
  if (!Array.isArray(modules)) return { ...DEFAULT_POOLING };
  const types = modules.map((m) => String((m as { type?: unknown }).type ?? ''));
  const normalize = types.some((t) => t.endsWith('.Normalize'));
  const poolingModule = modules.find((m) => String((m as { type?: unknown }).type ?? '').endsWith('.Pooling')) as { path?: unknown } | undefined;
  if (!poolingModule) return { mode: 'mean', normalize };
  const config = (await readJsonFile(join(dir, String(poolingModule.path ?? '1_Pooling'), 'config.json'), false)) ?? {};
  const unsupported = ['pooling_mode_max_tokens', 'pooling_mode_mean_sqrt_len_tokens', 'pooling_mode_weightedmean_tokens', 'pooling_mode_lasttoken'].filter((k) => config[k] === true);
  if (unsupported.length > 0) throw new MoxingError('MODEL_INVALID', `the model's pooling (${unsupported.join(', ')}) is not supported; mean and cls pooling are`);
  return { mode: config.pooling_mode_cls_token === true ? 'cls' : 'mean', normalize };
}

/**
 * Pools `hidden` [rows, length, dim] over each row's unmasked tokens (`mask` [rows, length] of 0/1), then
 * L2-normalises when asked: one embedding per row.
 */
export function pool(hidden: Float32Array, mask: readonly number[], rows: number, length: number, dim: number, pooling: Pooling): Float32Array[] {
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    const vector = new Float32Array(dim);
    if (pooling.mode === 'cls') vector.set(hidden.subarray(r * length * dim, r * length * dim + dim));
    else {
      // Summed in float64 and divided once, as torch's sum / clamp(count) does within float32 rounding.
      const sum = new Float64Array(dim);
      let count = 0;
      for (let t = 0; t < length; t++) {
        if (!mask[r * length + t]) continue;
        count++;
        const at = (r * length + t) * dim;
        for (let i = 0; i < dim; i++) sum[i] += hidden[at + i];
      }
      for (let i = 0; i < dim; i++) vector[i] = sum[i] / Math.max(count, 1e-9);
    }
    out.push(pooling.normalize ? normalizeL2(vector) : vector);
  }
  return out;
}

/** `vector` / max(‖vector‖₂, 1e-12), as torch.nn.functional.normalize. */
export function normalizeL2(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const v of vector) norm += v * v;
  const scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
  return vector.map((v) => v * scale);
}
