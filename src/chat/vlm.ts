/**
 * The vision half of a vision-language model in the three-file layout transformers.js runs
 * (`onnx/vision_encoder.onnx`, `onnx/embed_tokens.onnx`, `onnx/decoder_model_merged.onnx`, each with the
 * variant's suffix):
 *
 * - `embed_tokens`: `input_ids` int64 [batch, seq] → `inputs_embeds` float32 [batch, seq, hidden];
 * - `vision_encoder`: `pixel_values` float32 [1, 3, H, W] (LLaVA) or [1, tiles, 3, H, W] with
 *   `pixel_attention_mask` bool [1, tiles, H, W] (Idefics3 / SmolVLM) → `image_features` [.., hidden];
 * - the decoder takes `inputs_embeds` where an LLM takes `input_ids`: the image features overwrite the rows of
 *   the image tokens (`image_token_index` / `image_token_id` in config.json), in order, and a count that differs
 *   from the image tokens' is an error (transformers.js `default_merge_input_ids_with_features`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { Tensor, float32, inputShapes, int64, loadSession, type RuntimeOptions } from '../runtime/index.js';
import type { RgbImage } from '../vision/image.js';
import type { TokenEmbedder } from './onnx-model.js';
import { readJsonFile } from './tokenizer.js';
import { VlmImageProcessor, type ProcessedImage, type VlmLayout } from './vlm-processor.js';

type Json = Record<string, unknown>;

/** The three files of a VLM with the suffix of a variant ('' for fp32). */
export function vlmFiles(suffix: string): { vision: string; embed: string; decoder: string } {
  return { vision: `onnx/vision_encoder${suffix}.onnx`, embed: `onnx/embed_tokens${suffix}.onnx`, decoder: `onnx/decoder_model_merged${suffix}.onnx` };
}

export const VLM_CONFIG_FILES = ['preprocessor_config.json'] as const;
export const VLM_OPTIONAL_FILES = ['processor_config.json'] as const;

/** Whether a folder holds the three-file VLM layout for a suffix. */
export function isVlmFolder(dir: string, suffix: string): boolean {
  return Object.values(vlmFiles(suffix)).every((f) => existsSync(join(dir, f)));
}

/** A prompt with its images in place: the ids, and the embedder that puts the features at the image tokens. */
export interface VisionPrompt {
  readonly ids: number[];
  readonly embed: TokenEmbedder | undefined;
}

export class VisionParts {
  private constructor(
    readonly layout: VlmLayout,
    readonly encoder: InferenceSession,
    readonly embedder: InferenceSession,
    readonly processor: VlmImageProcessor,
    readonly imageTokenId: number,
    readonly imageToken: string,
  ) {}

  static async load(dir: string, suffix: string, config: Json, tokenToId: (token: string) => number | undefined, idToToken: (id: number) => string | undefined, runtime?: RuntimeOptions): Promise<VisionParts> {
    const type = String(config.model_type ?? '');
    const layout: VlmLayout = type === 'idefics3' || type === 'smolvlm' ? 'idefics3' : 'llava';
    const preprocessor = await readJsonFile(join(dir, 'preprocessor_config.json'), true);
    const processorConfig = (await readJsonFile(join(dir, 'processor_config.json'), false)) ?? {};
    const tokenId = config.image_token_index ?? config.image_token_id;
    const imageToken = typeof processorConfig.image_token === 'string' ? processorConfig.image_token : typeof tokenId === 'number' ? idToToken(tokenId) : '<image>';
    const imageTokenId = typeof tokenId === 'number' ? tokenId : imageToken === undefined ? undefined : tokenToId(imageToken);
    if (imageTokenId === undefined || imageToken === undefined || idToToken(imageTokenId) !== imageToken) {
      throw new MoxingError('CONFIG_INVALID', `config.json's image token (image_token_index / image_token_id ${String(tokenId)}) is not the tokenizer's "${imageToken ?? '<image>'}"`);
    }
    const files = vlmFiles(suffix);
    const [encoder, embedder] = await Promise.all([loadSession(join(dir, files.vision), runtime), loadSession(join(dir, files.embed), runtime)]);
    const expect = (session: InferenceSession, name: string, inputs: readonly string[], output: string) => {
      const missing = inputs.filter((n) => !session.inputNames.includes(n));
      if (missing.length > 0 || !session.outputNames.includes(output)) throw new MoxingError('MODEL_INVALID', `${name} must take ${inputs.join(', ')} and give ${output} (it takes ${session.inputNames.join(', ')} and gives ${session.outputNames.join(', ')})`);
    };
    expect(encoder, files.vision, layout === 'idefics3' ? ['pixel_values', 'pixel_attention_mask'] : ['pixel_values'], 'image_features');
    expect(embedder, files.embed, ['input_ids'], 'inputs_embeds');
    return new VisionParts(layout, encoder, embedder, new VlmImageProcessor(layout, preprocessor, processorConfig), imageTokenId, imageToken);
  }

  /** Rank of the LLaVA encoder's pixel_values: 4, or 5 for exports that take [batch, patches, 3, H, W]. */
  private get pixelRank(): number {
    return inputShapes(this.encoder).get('pixel_values')?.length ?? 4;
  }

  /** Embeds ids with embed_tokens: [rows, T] → [rows, T, hidden]. */
  readonly embed: TokenEmbedder = async (ids) => {
    const out = await this.embedder.run({ input_ids: int64(ids.flat(), [ids.length, ids[0].length]) });
    const embeds = out.inputs_embeds as Tensor;
    if (embeds.type !== 'float32') throw new MoxingError('MODEL_INVALID', `embed_tokens gives ${embeds.type} embeddings; float32 is supported`);
    return embeds;
  };

  /**
   * The prompt of `text` (the template's output, one image token string per image) with its images: each image
   * token string expands as the processor does, and the returned embedder puts the image features in place.
   */
  async prompt(text: string, images: readonly RgbImage[], encode: (text: string) => number[]): Promise<VisionPrompt> {
    const pieces = text.split(this.imageToken);
    if (pieces.length - 1 !== images.length) {
      throw new MoxingError('BAD_ARGUMENT', `the prompt holds ${pieces.length - 1} image placeholders (${this.imageToken}) for ${images.length} images; do not write ${this.imageToken} in message text`);
    }
    if (images.length === 0) return { ids: encode(text), embed: undefined };
    const processed = await Promise.all(images.map((image) => this.processor.process(image)));
    let expanded = pieces[0];
    processed.forEach((image, i) => (expanded += this.processor.placeholder(image, this.imageToken) + pieces[i + 1]));
    const ids = encode(expanded);
    const features = await this.features(processed);
    return { ids, embed: this.mergingEmbedder(features, ids.filter((id) => id === this.imageTokenId).length) };
  }

  /** Runs the vision encoder on each image: rows of `hidden` floats, in order. */
  private async features(images: readonly ProcessedImage[]): Promise<Float32Array[]> {
    const rows: Float32Array[] = [];
    for (const image of images) {
      const { tiles, height, width } = image;
      const feeds: Record<string, Tensor> = this.layout === 'idefics3'
        ? { pixel_values: float32(image.pixels, [1, tiles, 3, height, width]), pixel_attention_mask: new Tensor('bool', new Uint8Array(tiles * height * width).fill(1), [1, tiles, height, width]) }
        : { pixel_values: float32(image.pixels, this.pixelRank === 5 ? [1, 1, 3, height, width] : [1, 3, height, width]) };
      const out = (await this.encoder.run(feeds)).image_features as Tensor;
      if (out.type !== 'float32') throw new MoxingError('MODEL_INVALID', `the vision encoder gives ${out.type} features; float32 is supported`);
      const hidden = out.dims[out.dims.length - 1];
      const data = out.data as Float32Array;
      for (let at = 0; at < data.length; at += hidden) rows.push(data.subarray(at, at + hidden));
    }
    return rows;
  }

  /** An embedder that writes `features` over the image tokens' rows, in order; checks the counts first. */
  private mergingEmbedder(features: readonly Float32Array[], imageTokens: number): TokenEmbedder {
    if (features.length !== imageTokens) {
      throw new MoxingError('MODEL_INVALID', `the vision encoder gave ${features.length} image features for ${imageTokens} image tokens in the prompt; the processor config (patch_size, image_seq_len) does not match the vision encoder`);
    }
    return async (ids) => {
      const embeds = await this.embed(ids);
      const hidden = embeds.dims[2];
      const data = embeds.data as Float32Array;
      let next = 0;
      ids.forEach((row, r) => row.forEach((id, t) => {
        if (id !== this.imageTokenId) return;
        const feature = features[next++];
        if (!feature || feature.length !== hidden) throw new MoxingError('MODEL_INVALID', `image features are ${feature?.length ?? 0} wide; the embeddings are ${hidden}`);
        data.set(feature, (r * ids[0].length + t) * hidden);
      }));
      if (next !== features.length) throw new MoxingError('INTERNAL', `${features.length - next} image features were left unplaced`);
      return embeds;
    };
  }
}
