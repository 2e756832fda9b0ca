/**
 * Model-level checks of a Whisper export run straight on onnxruntime-node: cached decoding against full
 * recomputation, the merged decoder against the split pair, batches against single runs. Used on the generated
 * models and on the shared fixture alike, so a check that passes on ours also means something on a real export.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = ort.InferenceSession.OnnxValueMapType;

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/** One session per file, single-threaded (tests share two cores). */
export function session(dir: string, file: string): Promise<ort.InferenceSession> {
  const path = join(dir, 'onnx', `${file}.onnx`);
  let s = sessions.get(path);
  if (!s) {
    s = ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    sessions.set(path, s);
  }
  return s;
}

/** Sizes read from a session's metadata. */
export interface ExportSizes {
  layers: number;
  heads: number;
  headDim: number;
  dModel: number;
  nMels: number;
  vocab: number;
}

export async function exportSizes(dir: string): Promise<ExportSizes> {
  const enc = await session(dir, 'encoder_model');
  const dec = await session(dir, 'decoder_model');
  const kv = dec.outputMetadata.find((m) => m.name === 'present.0.decoder.key') as unknown as { shape: Array<number | string> };
  const logits = dec.outputMetadata.find((m) => m.name === 'logits') as unknown as { shape: Array<number | string> };
  const features = enc.inputMetadata[0] as unknown as { shape: Array<number | string> };
  const heads = kv.shape[1] as number;
  const headDim = kv.shape[3] as number;
  return {
    layers: dec.outputNames.filter((n) => n.endsWith('.decoder.key')).length,
    heads,
    headDim,
    dModel: heads * headDim,
    nMels: features.shape[1] as number,
    vocab: logits.shape[2] as number,
  };
}

/** Deterministic pseudo-random floats in [-1.5, 1.5) (log-mel-like range). */
export function features(batch: number, nMels: number, seed: number): ort.Tensor {
  const data = new Float32Array(batch * nMels * 3000);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 4294967296) * 3 - 1.5;
  }
  return new ort.Tensor('float32', data, [batch, nMels, 3000]);
}

export function ids(rows: readonly (readonly number[])[]): ort.Tensor {
  const flat = BigInt64Array.from(rows.flat(), (v) => BigInt(v));
  return new ort.Tensor('int64', flat, [rows.length, rows[0].length]);
}

function emptyPast(batch: number, sizes: ExportSizes): ort.Tensor {
  return new ort.Tensor('float32', new Float32Array(0), [batch, sizes.heads, 0, sizes.headDim]);
}

/** Rows of `logits` [B, T, V] for batch item `b`, positions `from` … `to - 1`, flattened. */
export function logitRows(logits: ort.Tensor, b: number, from: number, to: number): Float32Array {
  const [, t, v] = logits.dims as number[];
  const data = logits.data as Float32Array;
  return data.subarray((b * t + from) * v, (b * t + to) * v);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** One tensor [B, ...] sliced to batch item `b` (keeps a batch axis of 1). */
export function batchItem(t: ort.Tensor, b: number): ort.Tensor {
  const dims = t.dims as number[];
  const size = dims.slice(1).reduce((x, y) => x * y, 1);
  const data = (t.data as Float32Array).slice(b * size, (b + 1) * size);
  return new ort.Tensor(t.type as 'float32', data, [1, ...dims.slice(1)]);
}

export async function encode(dir: string, input: ort.Tensor): Promise<ort.Tensor> {
  return (await (await session(dir, 'encoder_model')).run({ input_features: input })).last_hidden_state;
}

/** Full recomputation: decoder_model over the whole sequence. */
export async function fullDecode(dir: string, tokens: readonly (readonly number[])[], hidden: ort.Tensor): Promise<Outputs> {
  return (await session(dir, 'decoder_model')).run({ input_ids: ids(tokens), encoder_hidden_states: hidden });
}

function pastFrom(outputs: Outputs, layers: number, encoder: Outputs): Feeds {
  const feeds: Feeds = {};
  for (let i = 0; i < layers; i++) {
    for (const kv of ['key', 'value']) {
      feeds[`past_key_values.${i}.decoder.${kv}`] = outputs[`present.${i}.decoder.${kv}`];
      feeds[`past_key_values.${i}.encoder.${kv}`] = encoder[`present.${i}.encoder.${kv}`];
    }
  }
  return feeds;
}

/**
 * Decodes `tokens` with the merged decoder: the first `prompt` tokens with use_cache_branch=false and zero-length
 * pasts, then the rest in chunks of `chunk` tokens with use_cache_branch=true, feeding the decoder presents back
 * and keeping the step-1 encoder presents (the with-past branch returns empty ones). Returns the logits of every
 * position [T·V] and each step's outputs.
 */
export async function mergedDecode(
  dir: string,
  file: 'decoder_model_merged' | 'decoder_model_merged_timestamped',
  tokens: readonly (readonly number[])[],
  hidden: ort.Tensor,
  prompt: number,
  chunk = 1,
): Promise<{ logits: Float32Array[]; steps: Outputs[] }> {
  const sizes = await exportSizes(dir);
  const s = await session(dir, file);
  const batch = tokens.length;
  const feeds: Feeds = { input_ids: ids(tokens.map((r) => r.slice(0, prompt))), encoder_hidden_states: hidden, use_cache_branch: new ort.Tensor('bool', [false], [1]) };
  for (let i = 0; i < sizes.layers; i++) {
    for (const side of ['decoder', 'encoder']) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${side}.${kv}`] = emptyPast(batch, sizes);
  }
  const first = await s.run(feeds);
  const steps = [first];
  const logits = [first.logits.data as Float32Array];
  let last = first;
  for (let at = prompt; at < tokens[0].length; at += chunk) {
    const next = tokens.map((r) => r.slice(at, Math.min(at + chunk, r.length)));
    last = await s.run({
      input_ids: ids(next),
      encoder_hidden_states: hidden,
      use_cache_branch: new ort.Tensor('bool', [true], [1]),
      ...pastFrom(last, sizes.layers, first),
    });
    steps.push(last);
    logits.push(last.logits.data as Float32Array);
  }
  return { logits, steps };
}

/** Decodes with the split pair: decoder_model on the prompt, then decoder_with_past_model one token at a time. */
export async function splitDecode(dir: string, tokens: readonly (readonly number[])[], hidden: ort.Tensor, prompt: number): Promise<Float32Array[]> {
  const sizes = await exportSizes(dir);
  const first = await fullDecode(dir, tokens.map((r) => r.slice(0, prompt)), hidden);
  const withPast = await session(dir, 'decoder_with_past_model');
  const logits = [first.logits.data as Float32Array];
  let last = first;
  for (let at = prompt; at < tokens[0].length; at++) {
    last = await withPast.run({ input_ids: ids(tokens.map((r) => [r[at]])), ...pastFrom(last, sizes.layers, first) });
    logits.push(last.logits.data as Float32Array);
  }
  return logits;
}

/** Concatenates step logits into one [T·V] array (batch 1). */
export { concatFloat32 as concat } from '../helpers/arrays.js';
