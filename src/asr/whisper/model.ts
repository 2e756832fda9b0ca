/**
 * A loaded Whisper: dimensions, tokenizer, encoder and decoder sessions, read once and shared by every
 * transcription (the CLI transcribing several files loads one). It is the DecodingContext of decode.ts.
 */
import { MoxingError } from '../../errors.js';
import { externalDataFiles, resolveWhisperModel, type ModelLoadOptions, type ResolvedWhisperModel as WhisperFiles } from '../../hub/index.js';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clearOnRelease, releaseSession, type RuntimeOptions } from '../../runtime/index.js';
import { loadWhisperTokenizer, type WhisperTokenizer } from '../../text/index.js';
import { loadWhisperDims, type WhisperDims } from './config.js';
import { WhisperDecoder, type DecoderRunner } from './decoder-runner.js';
import type { DecodingContext } from './decode.js';
import { WhisperEncoder, type AudioFeatures } from './encoder.js';
import { int8KeyInputs, loadCrossKeyQuantizer } from './cross-keys.js';
import { loadWhisperDecoder } from './decoder-rewrite.js';
import { loadWhisperEncoder } from './encoder-rewrite.js';
import { requireCrossAttentions } from './timing.js';
import type { TimingPass, WordTimingModel } from './word-timestamps.js';

/** How to load a Whisper: the shape every model loader takes, and which decoder export. */
export interface LoadWhisperOptions extends ModelLoadOptions {
  /** Load the merged decoder that also outputs cross attentions (word timing). @default false */
  readonly timestamped?: boolean;
  /**
   * Load-time graph rewrites: each encoder self-attention as one MultiHeadAttention, which ORT runs as flash
   * attention (encoder-rewrite.ts); the decoder's cached step returning only its new self-attention K/V, kept by
   * the runner and its self-attention reading them in place, and its first pass computing only the logits read
   * (decoder-rewrite.ts). `false` loads both as exported; `'exact'` applies only the rewrites that change no value
   * (the encoder as exported, the decoder's cache outside and its first pass's logits).
   * @default true
   */
  readonly graphRewrites?: boolean | 'exact';
}

/** Where a Whisper's files are: what hub/ resolves, or paths given by hand. */
export type WhisperModelFiles = Pick<WhisperFiles, 'dir' | 'encoder' | 'decoder'>;

export class WhisperModel implements DecodingContext, WordTimingModel {
  private constructor(
    readonly files: WhisperModelFiles,
    readonly dims: WhisperDims,
    readonly tokenizer: WhisperTokenizer,
    readonly encoder: WhisperEncoder,
    readonly decoder: WhisperDecoder,
  ) {}

  /** Resolves `ref` (folder, alias or hub id; downloading if needed) and loads it. Cached per process. */
  static load(ref: string, options: LoadWhisperOptions = {}): Promise<WhisperModel> {
    const key = JSON.stringify([ref, options.variant ?? null, options.timestamped ?? false, options.runtime ?? null, options.hub ?? null, options.graphRewrites ?? true]);
    let model = loaded.get(key);
    if (!model) {
      model = resolveWhisperModel(ref, { ...options.hub, variant: options.variant, timestamped: options.timestamped }).then((files) =>
        WhisperModel.fromFiles(files, options.runtime, { graphRewrites: options.graphRewrites }),
      );
      loaded.set(key, model);
      model.catch(() => loaded.delete(key));
    }
    return model;
  }

  /** Loads a model from explicit file paths (a chosen decoder layout, test models). */
  static async fromFiles(files: WhisperModelFiles, runtime: RuntimeOptions = {}, options: Pick<LoadWhisperOptions, 'graphRewrites'> = {}): Promise<WhisperModel> {
    const dims = loadWhisperDims(files.dir);
    const tokenizer = await loadWhisperTokenizer(files.dir);
    if (tokenizer.vocabSize !== dims.vocabSize) {
      throw new MoxingError('MODEL_INVALID', `${files.dir}: the tokenizer covers ${tokenizer.vocabSize} ids but config.json has vocab_size ${dims.vocabSize}; the files come from different models`);
    }
    const d = files.decoder;
    const rewrite = options.graphRewrites ?? true;
    const [encoderSession, first, withPast] = await Promise.all([
      loadWhisperEncoder(files.encoder, rewrite === true, runtime),
      loadWhisperDecoder(d.kind === 'merged' ? d.path : d.decoder, rewrite, runtime),
      d.kind === 'split' ? loadWhisperDecoder(d.decoderWithPast, rewrite, runtime) : Promise.resolve(undefined),
    ]);
    const keyQuantizer = (withPast ?? first).inputNames.includes(int8KeyInputs(0).keys) ? await loadCrossKeyQuantizer(dims.decoderLayers, runtime) : undefined;
    return new WhisperModel(files, dims, tokenizer, new WhisperEncoder(encoderSession, dims), new WhisperDecoder(dims, first, withPast, keyQuantizer));
  }

  /** The ONNX graphs of `files`, with their external-data files: what loading them costs in memory, near enough. */
  static async fileBytes(files: WhisperModelFiles): Promise<number> {
    const d = files.decoder;
    const graphs = [files.encoder, ...(d.kind === 'merged' ? [d.path] : [d.decoder, d.decoderWithPast])];
    let bytes = 0;
    for (const graph of graphs) {
      bytes += statSync(graph).size;
      for (const data of await externalDataFiles(graph)) bytes += statSync(join(dirname(graph), data), { throwIfNoEntry: false })?.size ?? 0;
    }
    return bytes;
  }

  /**
   * Releases the model's ONNX Runtime sessions (the server unloading an idle model). The model cannot run
   * afterwards; loading it again reads the files again.
   */
  async close(): Promise<void> {
    for (const [key, model] of loaded) if ((await model.catch(() => undefined)) === this) loaded.delete(key);
    this.decoder.dropSpareBuffers();
    const sessions = new Set([this.encoder.session, this.decoder.first, this.decoder.withPast, this.decoder.keyQuantizer]);
    await Promise.all([...sessions].map((s) => (s ? releaseSession(s) : undefined)));
  }

  get nTextCtx(): number {
    return this.dims.nTextCtx;
  }

  get nAudioCtx(): number {
    return this.dims.nAudioCtx;
  }

  /** English-only (`.en`) models have no language or task tokens. */
  get isMultilingual(): boolean {
    return this.tokenizer.isMultilingual;
  }

  /** Encodes `batch` mel windows, [batch, nMels, 3000]. */
  encode(mel: Float32Array, batch = 1): Promise<AudioFeatures> {
    return this.encoder.encode(mel, batch);
  }

  createRunner(features: AudioFeatures, rowAudio: readonly number[]): DecoderRunner {
    return this.decoder.runner(features, rowAudio);
  }

  get decoderLayers(): number {
    return this.dims.decoderLayers;
  }

  get decoderHeads(): number {
    return this.dims.decoderHeads;
  }

  get configAlignmentHeads(): WhisperDims['alignmentHeads'] {
    return this.dims.alignmentHeads;
  }

  /** Fails, naming the timestamped export, unless the decoder outputs `cross_attentions.{i}` (word timestamps). */
  requireCrossAttentions(): void {
    const d = this.files.decoder;
    requireCrossAttentions(this.decoder.first.outputNames, this.dims.decoderLayers, d.kind === 'merged' ? d.path : d.decoder);
  }

  /**
   * Runs the decoder once over `tokens` on one encoded window, without KV cache (openai `find_alignment`'s
   * forward pass): the logits and every layer's cross attentions.
   */
  async timingPass(features: AudioFeatures, tokens: readonly number[]): Promise<TimingPass> {
    this.requireCrossAttentions();
    if (features.batch !== 1) throw new MoxingError('INTERNAL', `timingPass takes one encoded window, got ${features.batch}`);
    const { dims } = this;
    const session = this.decoder.first;
    const feeds = this.decoder.firstPassFeeds([tokens], features.tensor);
    const attentionNames = Array.from({ length: dims.decoderLayers }, (_, i) => `cross_attentions.${i}`);
    const out = await session.run(feeds, ['logits', ...attentionNames]);
    return { logits: out.logits.data as Float32Array, vocabSize: out.logits.dims[2], crossAttentions: attentionNames.map((n) => out[n]) };
  }
}

const loaded = clearOnRelease(new Map<string, Promise<WhisperModel>>());
