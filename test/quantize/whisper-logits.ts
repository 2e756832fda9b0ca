/**
 * Runs a Whisper export's encoder and merged decoder (both `If` branches: the prompt without cache, then one
 * cached step) on jfk's real log-mel, for comparing a quantized variant with float32. Used by the tests and by
 * bench/quantize.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { bool, emptyFloat32, float32, int64, loadSession, type RuntimeOptions, type Tensor } from '../../src/runtime/index.js';

export const JFK_MEL80 = fileURLToPath(new URL('../../../shared/whisper/mel-reference/jfk.mel80.f32', import.meta.url));
/** <|startoftranscript|> <|en|> <|transcribe|> <|notimestamps|>, then "And" ("Ġand" 293) as the cached step. */
export const PROMPT = [50258, 50259, 50359, 50363] as const;
export const STEP_TOKEN = 293;

export function jfkFeatures(): Float32Array {
  const bytes = readFileSync(JFK_MEL80);
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export interface WhisperOutputs {
  readonly encoder: Float32Array;
  /** Logits of the last prompt position [vocab] (the no-cache branch). */
  readonly prefill: Float32Array;
  /** Logits of the cached step [vocab] (the cache branch). */
  readonly step: Float32Array;
}

/** `suffix`: '' for float32, '_quantized' for q8, '_q4' for q4. */
export async function whisperOutputs(dir: string, suffix: string, runtime: RuntimeOptions = {}): Promise<WhisperOutputs> {
  const encoder = await loadSession(join(dir, 'onnx', `encoder_model${suffix}.onnx`), runtime);
  const decoder = await loadSession(join(dir, 'onnx', `decoder_model_merged${suffix}.onnx`), runtime);
  const { last_hidden_state: hidden } = await encoder.run({ input_features: float32(jfkFeatures(), [1, 80, 3000]) });
  const pastNames = decoder.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const headDims = pastShape(decoder);
  const first = await decoder.run({
    input_ids: int64(PROMPT, [1, PROMPT.length]),
    encoder_hidden_states: hidden,
    use_cache_branch: bool([false], [1]),
    ...Object.fromEntries(pastNames.map((n) => [n, emptyFloat32([1, headDims[0], 0, headDims[1]])])),
  });
  const feeds: Record<string, Tensor> = {
    input_ids: int64([STEP_TOKEN], [1, 1]),
    encoder_hidden_states: hidden,
    use_cache_branch: bool([true], [1]),
  };
  for (const n of pastNames) feeds[n] = first[n.replace('past_key_values.', 'present.')];
  const second = await decoder.run(feeds);
  return { encoder: hidden.data as Float32Array, prefill: lastRow(first.logits), step: lastRow(second.logits) };
}

function pastShape(decoder: Awaited<ReturnType<typeof loadSession>>): [number, number] {
  const meta = (decoder.inputMetadata ?? []).find((m) => m.name.startsWith('past_key_values.'));
  const shape = meta && meta.isTensor ? meta.shape : [];
  return [Number(shape[1]), Number(shape[3])];
}

function lastRow(t: Tensor): Float32Array {
  const vocab = t.dims[t.dims.length - 1];
  return (t.data as Float32Array).slice(t.data.length - vocab);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function maxAbs(a: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
