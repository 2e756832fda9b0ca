/**
 * The vision half of a vision-language model in the three-file layout transformers.js runs
 * (`onnx/vision_encoder.onnx`, `onnx/embed_tokens.onnx`, `onnx/decoder_model_merged.onnx`, each with the
 * variant's suffix):
 *
 * - `embed_tokens`: `input_ids` int64 [batch, seq] → `inputs_embeds` [batch, seq, hidden];
 * - `vision_encoder`: `pixel_values` [1, 3, H, W] (LLaVA) or [1, tiles, 3, H, W] with
 *   `pixel_attention_mask` bool [1, tiles, H, W] (Idefics3 / SmolVLM) → `image_features` [.., hidden];
 * - the decoder takes `inputs_embeds` where an LLM takes `input_ids`: the image features overwrite the rows of
 *   the image tokens (`image_token_index` / `image_token_id` in config.json), in order, and a count that differs
 *   from the image tokens' is an error (transformers.js `default_merge_input_ids_with_features`).
 *
 * Each float tensor is float32 or float16 as its session declares it (an `_fp16` export has float16 embeddings,
 * features and decoder input; its pixel_values may be either). Pixels are narrowed to float16 only for an encoder
 * that takes float16; features overwrite embeddings of their own dtype bit for bit, as transformers.js copies
 * them, and are converted only where the two dtypes differ; the embeddings reach the decoder in its dtype.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { MoxingError } from '../errors.js';
import { float16ToFloat32, float32ToFloat16 } from '../runtime/float16.js';
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

/** The float element types the three files may use for pixels, features and embeddings. */
type FloatType = 'float32' | 'float16';
type FloatData = Float32Array | Uint16Array;

/** The element type `session` declares for input or output `name`: float32 or float16, else an error naming it. */
function declaredFloat(session: InferenceSession, file: string, name: string, side: 'input' | 'output'): FloatType {
  const meta = (side === 'input' ? session.inputMetadata : session.outputMetadata)?.find((m) => m.name === name);
  // Without metadata (an older ONNX Runtime) the float32 layout is assumed, as before.
  const type = meta && meta.isTensor ? meta.type : 'float32';
  if (type !== 'float32' && type !== 'float16') throw new MoxingError('MODEL_INVALID', `${file} ${side === 'input' ? 'takes' : 'gives'} ${name} as ${type}; float32 and float16 are supported`);
  return type;
}

/** `data` in element type `to`: the same array when it already is; float16 widens exactly, float32 rounds to nearest even. */
function convertFloats(data: FloatData, to: FloatType): FloatData {
  if (to === 'float16') return data instanceof Uint16Array ? data : float32ToFloat16(data);
  return data instanceof Float32Array ? data : float16ToFloat32(data);
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
    /** Element types: of pixel_values, of image_features, of embed_tokens' output and of the decoder's inputs_embeds. */
    readonly types: { readonly pixels: FloatType; readonly features: FloatType; readonly embeddings: FloatType; readonly decoderEmbeddings: FloatType },
  ) {}

  /** `decoder`: the session that takes `inputs_embeds`, whose declared dtype the embeddings are fed in. */
  static async load(dir: string, suffix: string, config: Json, tokenToId: (token: string) => number | undefined, idToToken: (id: number) => string | undefined, decoder: InferenceSession, runtime?: RuntimeOptions): Promise<VisionParts> {
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
    const types = {
      pixels: declaredFloat(encoder, files.vision, 'pixel_values', 'input'),
      features: declaredFloat(encoder, files.vision, 'image_features', 'output'),
      embeddings: declaredFloat(embedder, files.embed, 'inputs_embeds', 'output'),
      decoderEmbeddings: declaredFloat(decoder, files.decoder, 'inputs_embeds', 'input'),
    };
    return new VisionParts(layout, encoder, embedder, new VlmImageProcessor(layout, preprocessor, processorConfig), imageTokenId, imageToken, types);
  }

  /** Rank of the LLaVA encoder's pixel_values: 4, or 5 for exports that take [batch, patches, 3, H, W]. */
  private get pixelRank(): number {
    return inputShapes(this.encoder).get('pixel_values')?.length ?? 4;
  }

  /** Embeds ids with embed_tokens, in embed_tokens' dtype: [rows, T] → [rows, T, hidden]. */
  private async embedTokens(ids: readonly (readonly number[])[]): Promise<Tensor> {
    const out = await this.embedder.run({ input_ids: int64(ids.flat(), [ids.length, ids[0].length]) });
    const embeds = out.inputs_embeds as Tensor;
    if (embeds.type !== this.types.embeddings) throw new MoxingError('MODEL_INVALID', `embed_tokens gave ${embeds.type} embeddings where it declares ${this.types.embeddings}`);
    return embeds;
  }

  /** Embeddings in the dtype the decoder takes (the same tensor when embed_tokens already gives it). */
  private forDecoder(embeds: Tensor): Tensor {
    const to = this.types.decoderEmbeddings;
    if (embeds.type === to) return embeds;
    const data = convertFloats(embeds.data as FloatData, to);
    return data instanceof Uint16Array ? new Tensor('float16', data, embeds.dims) : new Tensor('float32', data, embeds.dims);
  }

  /** Embeds ids for the decoder: [rows, T] → [rows, T, hidden], in the decoder's inputs_embeds dtype. */
  readonly embed: TokenEmbedder = async (ids) => this.forDecoder(await this.embedTokens(ids));

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

  /** The processor's float32 pixels as the encoder takes them (narrowed for a float16 pixel_values). */
  private pixels(image: ProcessedImage, dims: readonly number[]): Tensor {
    return this.types.pixels === 'float16' ? new Tensor('float16', float32ToFloat16(image.pixels), dims) : float32(image.pixels, dims);
  }

  /** Runs the vision encoder on each image: rows of `hidden` values in the encoder's output dtype, in order. */
  private async features(images: readonly ProcessedImage[]): Promise<FloatData[]> {
    const rows: FloatData[] = [];
    for (const image of images) {
      const { tiles, height, width } = image;
      const feeds: Record<string, Tensor> = this.layout === 'idefics3'
        ? { pixel_values: this.pixels(image, [1, tiles, 3, height, width]), pixel_attention_mask: new Tensor('bool', new Uint8Array(tiles * height * width).fill(1), [1, tiles, height, width]) }
        : { pixel_values: this.pixels(image, this.pixelRank === 5 ? [1, 1, 3, height, width] : [1, 3, height, width]) };
      const out = (await this.encoder.run(feeds)).image_features as Tensor;
      if (out.type !== this.types.features) throw new MoxingError('MODEL_INVALID', `the vision encoder gave ${out.type} features where it declares ${this.types.features}`);
      const hidden = out.dims[out.dims.length - 1];
      const data = out.data as FloatData;
      for (let at = 0; at < data.length; at += hidden) rows.push(data.subarray(at, at + hidden));
    }
    return rows;
  }

  /**
   * An embedder that writes `features` over the image tokens' rows, in order, in the embeddings' dtype (bits as
   * they are when the dtypes match); checks the counts first.
   */
  private mergingEmbedder(features: readonly FloatData[], imageTokens: number): TokenEmbedder {
    if (features.length !== imageTokens) {
      throw new MoxingError('MODEL_INVALID', `the vision encoder gave ${features.length} image features for ${imageTokens} image tokens in the prompt; the processor config (patch_size, image_seq_len) does not match the vision encoder`);
    }
    const rows = features.map((feature) => convertFloats(feature, this.types.embeddings));
    return async (ids) => {
      const embeds = await this.embedTokens(ids);
      const hidden = embeds.dims[2];
      const data = embeds.data as FloatData;
      let next = 0;
      ids.forEach((row, r) => row.forEach((id, t) => {
        if (id !== this.imageTokenId) return;
        const feature = rows[next++];
        if (!feature || feature.length !== hidden) throw new MoxingError('MODEL_INVALID', `image features are ${feature?.length ?? 0} wide; the embeddings are ${hidden}`);
        data.set(feature, (r * ids[0].length + t) * hidden);
      }));
      if (next !== features.length) throw new MoxingError('INTERNAL', `${features.length - next} image features were left unplaced`);
      return this.forDecoder(embeds);
    };
  }
}
