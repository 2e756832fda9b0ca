/**
 * A DINOv2 / DINO feature extractor: the ONNX export plus what its configs say about it (patch size, register
 * tokens, fixed or free input size, preprocessing). `run` takes preprocessed pixels and returns the token
 * features; pooling and pictures are built on that in their own modules.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { resolveOnnxGraph, type ModelLoadOptions } from '../hub/index.js';
import { concatFloat32, float32, loadSession } from '../runtime/index.js';
import { LanePool, type LaneOutputs } from './lanes.js';
import { DINO_PROCESSOR, DINOV2_PROCESSOR, processorFromConfig, type ImageProcessorOptions, type PixelValues } from './processor.js';

export type VisionFamily = 'dinov2' | 'dino';

/** How to load a vision model: the shape every model loader takes. */
export type VisionModelOptions = ModelLoadOptions;

/** What moxing knows about a loaded model. */
export interface VisionModelInfo {
  /** The reference it was loaded from (alias or repo id), or the absolute folder of a local model. */
  readonly ref: string;
  readonly dir: string;
  readonly family: VisionFamily;
  readonly patchSize: number;
  readonly hiddenSize: number;
  /** Register tokens between CLS and the patch tokens (DINOv2 with registers: 4). */
  readonly registers: number;
  /** Input size the graph requires (DINO v1 exports: fixed position embeddings); null when any multiple of the patch works. */
  readonly fixedSize: { readonly height: number; readonly width: number } | null;
  /** Name of the export's last-layer attentions output (for attention maps), if any. */
  readonly attentionsOutput: string | null;
  /** Whether the export gives token features (last_hidden_state); attention-only exports do not. */
  readonly featuresOutput: boolean;
  readonly processor: ImageProcessorOptions;
}

/** Token features of a batch: [batch, tokens, hidden], tokens = 1 (CLS) + registers + gridHeight * gridWidth. */
export interface TokenBatch {
  readonly batch: number;
  readonly tokens: number;
  readonly hidden: number;
  readonly registers: number;
  readonly gridHeight: number;
  readonly gridWidth: number;
  readonly data: Float32Array;
  /** Last-layer attention probabilities [batch, heads, tokens, tokens], when asked for and exported. */
  readonly attentions?: { readonly heads: number; readonly data: Float32Array };
}

type Json = Record<string, unknown>;

/**
 * Batches of two or more images are split over this many worker lanes (lanes.ts), each with a single-session
 * share of the cores, when the caller leaves the thread count to us and runs on the CPU.
 */
const RUN_LANES = 2;

/** Each lane holds its own copy of the weights, so larger exports (dinov2-large, -giant) run on one session. */
const LANE_MAX_MODEL_BYTES = 512 * 2 ** 20;

/** How to start the lanes of a model, or null when it runs every batch on its main session. */
interface LanePlan {
  readonly path: string;
  readonly count: number;
  readonly intraOpThreads: number;
  readonly graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
}

export class VisionModel {
  /** Started on the first batch that uses them, so single-image use (pictures, one query) costs no extra memory. */
  private pool: LanePool | null = null;

  private constructor(
    readonly info: VisionModelInfo,
    private readonly session: ort.InferenceSession,
    private readonly lanePlan: LanePlan | null,
  ) {}

  /** Loads a model from a catalogue alias (`dinov2-small`), a hub repo id or a local folder. */
  static async load(ref: string, options: VisionModelOptions = {}): Promise<VisionModel> {
    const { dir, onnxPath, id } = await resolveOnnxGraph(ref, { ...options, files: ['config.json'], optionalFiles: ['preprocessor_config.json'] });
    const config = await readJson(join(dir, 'config.json'), true);
    const preprocessor = await readJson(join(dir, 'preprocessor_config.json'), false);
    const { device, intraOpThreads, interOpThreads, graphOptimization } = options.runtime ?? {};
    const session = await loadSession(onnxPath, { device, intraOpThreads, interOpThreads, graphOptimization });
    const cores = availableParallelism();
    const lanePlan: LanePlan | null =
      intraOpThreads === undefined && (device ?? 'cpu') === 'cpu' && cores >= RUN_LANES && modelBytes(onnxPath) <= LANE_MAX_MODEL_BYTES
        ? { path: onnxPath, count: RUN_LANES, intraOpThreads: Math.floor(cores / RUN_LANES), graphOptimization: graphOptimization ?? 'all' }
        : null;
    return new VisionModel(describe(id, dir, config, preprocessor, session), session, lanePlan);
  }

  /** Stops the worker lanes, if any were started (they never keep a process alive; this frees their memory). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  /**
   * Runs a batch of same-size preprocessed images.
   * @param withAttentions also fetch the last layer's attentions (the export must have them).
   */
  async run(pixels: readonly PixelValues[], withAttentions = false): Promise<TokenBatch> {
    if (pixels.length === 0) throw new MoxingError('BAD_ARGUMENT', 'run() needs at least one image');
    const { height, width } = pixels[0];
    if (pixels.some((p) => p.height !== height || p.width !== width)) {
      throw new MoxingError('BAD_ARGUMENT', 'all images of one batch must have the same preprocessed size; group them by size first');
    }
    const { patchSize, fixedSize } = this.info;
    if (height % patchSize !== 0 || width % patchSize !== 0) {
      throw new MoxingError('BAD_ARGUMENT', `input ${width}x${height} is not a multiple of the patch size ${patchSize}`);
    }
    if (fixedSize && (fixedSize.height !== height || fixedSize.width !== width)) {
      throw new MoxingError('BAD_ARGUMENT', `${this.info.ref} only takes ${fixedSize.width}x${fixedSize.height} inputs (fixed position embeddings), got ${width}x${height}`);
    }
    if (withAttentions && !this.info.attentionsOutput) {
      throw new MoxingError('MODEL_INVALID', `${this.info.ref} has no attentions output; use an export made with output_attentions (e.g. onnx-community/dinov2-with-registers-small-with-attentions)`);
    }
    const hasHidden = this.info.featuresOutput;
    if (!hasHidden && !withAttentions) {
      throw new MoxingError('MODEL_INVALID', `${this.info.ref} has no last_hidden_state output, so it gives no features; use a feature-extraction export (e.g. dinov2-small)`);
    }
    const fetches = [...(hasHidden ? ['last_hidden_state'] : []), ...(withAttentions ? [this.info.attentionsOutput as string] : [])];
    if (!this.lanePlan || pixels.length < 2) return this.runPart(pixels, fetches, withAttentions, false);
    this.pool ??= new LanePool(this.lanePlan, this.lanePlan.count);
    const size = Math.ceil(pixels.length / this.pool.size);
    const parts = Array.from({ length: Math.ceil(pixels.length / size) }, (_, i) => pixels.slice(i * size, (i + 1) * size));
    return concatBatches(await Promise.all(parts.map((part) => this.runPart(part, fetches, withAttentions, true))));
  }

  /** Runs one batch on the main session or on the next free worker lane, and checks what comes back. */
  private async runPart(pixels: readonly PixelValues[], fetches: readonly string[], withAttentions: boolean, onLane: boolean): Promise<TokenBatch> {
    const { height, width } = pixels[0];
    const { patchSize } = this.info;
    const hasHidden = this.info.featuresOutput;
    const plane = 3 * height * width;
    const batch = new Float32Array(plane * pixels.length);
    pixels.forEach((p, i) => batch.set(p.data, i * plane));
    const dims = [pixels.length, 3, height, width];
    let out: LaneOutputs;
    try {
      if (onLane && this.pool) out = await this.pool.run(batch, dims, fetches);
      else {
        const ran = await this.session.run({ pixel_values: float32(batch, dims) }, fetches as string[]);
        out = Object.fromEntries(fetches.map((name) => [name, { data: ran[name].data as Float32Array, dims: ran[name].dims }]));
      }
    } catch (cause) {
      throw new MoxingError('MODEL_INVALID', `ONNX Runtime failed on ${this.info.ref} with a ${width}x${height} input: ${(cause as Error).message}`, { cause });
    }
    const gridHeight = height / patchSize;
    const gridWidth = width / patchSize;
    const expectedTokens = 1 + this.info.registers + gridHeight * gridWidth;
    let data: Float32Array = new Float32Array(0);
    if (hasHidden) {
      const hidden = out.last_hidden_state;
      if (hidden.dims.length !== 3 || hidden.dims[0] !== pixels.length || hidden.dims[1] !== expectedTokens || hidden.dims[2] !== this.info.hiddenSize) {
        throw new MoxingError('MODEL_INVALID', `${this.info.ref} returned last_hidden_state [${hidden.dims.join(', ')}]; expected [${pixels.length}, ${expectedTokens}, ${this.info.hiddenSize}] (check num_register_tokens and patch_size in config.json)`);
      }
      data = hidden.data;
    }
    const result: TokenBatch = { batch: pixels.length, tokens: expectedTokens, hidden: this.info.hiddenSize, registers: this.info.registers, gridHeight, gridWidth, data };
    if (!withAttentions) return result;
    let attn = out[this.info.attentionsOutput as string];
    // Some exports stack every layer: [layers, batch, heads, S, S]; the last layer is what the pictures use.
    if (attn.dims.length === 5) {
      const [layers, ...rest] = attn.dims;
      const size = rest.reduce((a, b) => a * b, 1);
      attn = { data: attn.data.subarray((layers - 1) * size, layers * size), dims: rest };
    }
    if (attn.dims.length !== 4 || attn.dims[0] !== pixels.length || attn.dims[2] !== expectedTokens || attn.dims[3] !== expectedTokens) {
      throw new MoxingError('MODEL_INVALID', `${this.info.ref}: attentions output has shape [${attn.dims.join(', ')}], expected [${pixels.length}, heads, ${expectedTokens}, ${expectedTokens}]`);
    }
    return { ...result, attentions: { heads: attn.dims[1], data: attn.data } };
  }
}

/** Size of an ONNX graph plus its external weights file, if it has one. */
function modelBytes(onnxPath: string): number {
  const data = `${onnxPath}_data`;
  return statSync(onnxPath).size + (existsSync(data) ? statSync(data).size : 0);
}

/** Joins the token batches of consecutive parts of one batch (same geometry) into one. */
function concatBatches(parts: readonly TokenBatch[]): TokenBatch {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const merged: TokenBatch = { ...first, batch: parts.reduce((n, p) => n + p.batch, 0), data: concatFloat32(parts.map((p) => p.data)) };
  if (!first.attentions) return merged;
  return { ...merged, attentions: { heads: first.attentions.heads, data: concatFloat32(parts.map((p) => p.attentions?.data ?? new Float32Array(0))) } };
}

async function readJson(path: string, required: boolean): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (!required) return null;
    throw new MoxingError('MODEL_INVALID', `${path} is missing; a vision model folder needs config.json next to its ONNX file`, { cause });
  }
  try {
    return JSON.parse(text) as Json;
  } catch (cause) {
    throw new MoxingError('CONFIG_INVALID', `${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

function describe(ref: string, dir: string, config: Json | null, preprocessor: Json | null, session: ort.InferenceSession): VisionModelInfo {
  const c = config ?? {};
  const modelType = String(c.model_type ?? '');
  let family: VisionFamily;
  if (modelType.startsWith('dinov2')) family = 'dinov2';
  else if (modelType === 'vit') family = 'dino';
  else throw new MoxingError('CONFIG_INVALID', `${dir}/config.json has model_type "${modelType}"; moxing's vision models are dinov2, dinov2_with_registers and vit (DINO)`);
  const patchSize = positiveInt(c.patch_size, 'patch_size', dir);
  const hiddenSize = positiveInt(c.hidden_size, 'hidden_size', dir);
  const registers = typeof c.num_register_tokens === 'number' ? c.num_register_tokens : 0;
  const imageSize = typeof c.image_size === 'number' ? c.image_size : 224;
  const attentionsOutput = pickAttentions(session.outputNames);
  const featuresOutput = session.outputNames.includes('last_hidden_state');
  if (!session.inputNames.includes('pixel_values') || (!featuresOutput && !attentionsOutput)) {
    throw new MoxingError('MODEL_INVALID', `${dir}: the ONNX graph must take pixel_values and give last_hidden_state or attentions; it has inputs ${session.inputNames.join(', ')} and outputs ${session.outputNames.join(', ')}`);
  }
  const processor = preprocessor ? processorFromConfig(preprocessor) : family === 'dinov2' ? DINOV2_PROCESSOR : DINO_PROCESSOR;
  return {
    ref,
    dir,
    family,
    patchSize,
    hiddenSize,
    registers,
    // ViTModel exports trace without interpolate_pos_encoding: only the training size fits their position table.
    fixedSize: family === 'dino' ? { height: imageSize, width: imageSize } : null,
    attentionsOutput,
    featuresOutput,
    processor,
  };
}

/** `attentions` (last layer), or the highest-numbered of `attentions.N` / `attentions_N`. */
function pickAttentions(names: readonly string[]): string | null {
  if (names.includes('attentions')) return 'attentions';
  let best: { name: string; layer: number } | null = null;
  for (const name of names) {
    const m = /^attentions[._](\d+)$/.exec(name);
    if (m && (!best || Number(m[1]) > best.layer)) best = { name, layer: Number(m[1]) };
  }
  return best?.name ?? null;
}

function positiveInt(value: unknown, key: string, dir: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new MoxingError('CONFIG_INVALID', `${dir}/config.json needs a positive whole ${key}, got ${JSON.stringify(value)}`);
  }
  return value;
}
