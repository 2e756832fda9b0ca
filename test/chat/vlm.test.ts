import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { templateMessages, type ChatMessage } from '../../src/chat/chat.js';
import { OnnxChatModel } from '../../src/chat/onnx-chat.js';
import { argmax } from '../../src/chat/sampling.js';
import { loadImage } from '../../src/vision/image.js';
import type { ProcessedImage } from '../../src/chat/vlm-processor.js';
import { quantizeFile, quantizeModel } from '../../src/quantize/index.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/runtime/float16.js';
import { loadSession, Tensor } from '../../src/runtime/index.js';
import { toFloat16 } from '../models/float16.js';
import { decodeModel, encodeModel, saveModel } from '../models/onnx-builder.js';
import { ensureLlmModel, TINY_LLM } from '../models/llm.js';
import { ensureVlmModel, imageSeqLen, TINY_LLAVA, TINY_LLAVA_ONEVISION, TINY_SMOLVLM, type VlmSpec } from '../models/vlm.js';
import { pngDeclaring } from '../helpers/png.js';
import { startFakeHub } from '../hub/fake-hub.js';

/** A deterministic, textured RGB PNG. */
async function png(width: number, height: number, seed = 1): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 * seed + Math.floor(i / 3) * 11 + ((i * i) % 251)) % 256;
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const dataUrl = (bytes: Buffer) => `data:image/png;base64,${bytes.toString('base64')}`;

function ask(question: string, ...images: Buffer[]): ChatMessage[] {
  return [{ role: 'user', content: [...images.map((b) => ({ type: 'image_url' as const, image_url: { url: dataUrl(b) } })), { type: 'text' as const, text: question }] }];
}

/** Greedy decoding that recomputes the whole sequence, image features included, at every step (no KV cache). */
async function uncachedGreedy(model: OnnxChatModel, messages: ChatMessage[], steps: number): Promise<number[]> {
  const { ids: prompt, embed } = await model.prompt(messages);
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { logits } = await model.decoder.forward([ids], [ids.map(() => 1)], [ids.map((_, p) => p)], model.decoder.emptyCache(1), embed);
    const token = argmax(logits);
    if (model.tokenizer.eosIds.includes(token)) break;
    out.push(token);
    ids.push(token);
  }
  return out;
}

/** Rewrites the element type `path` declares for its graph input `name` (ONNX TensorProto.DataType). */
function retypeInput(path: string, name: string, elemType: number): void {
  const model = decodeModel(readFileSync(path));
  const input = model.graph?.input?.find((v) => v.name === name);
  assert.ok(input?.type?.tensorType, `${path} has an input ${name}`);
  input.type.tensorType.elemType = elemType;
  writeFileSync(path, encodeModel(model));
}

const ELEM_INT8 = 3;
const ELEM_FLOAT16 = 10;

/** The image tokens' rows of a prompt's embeddings, flattened (float16 bits or float32 values). */
async function imageRows(model: OnnxChatModel, messages: ChatMessage[]): Promise<number[]> {
  const { ids, embed } = await model.prompt(messages);
  const embeds = (await embed!([ids])).data as Uint16Array | Float32Array;
  const hidden = embeds.length / ids.length;
  return ids.flatMap((id, t) => (id === model.visionParts!.imageTokenId ? [...embeds.subarray(t * hidden, (t + 1) * hidden)] : []));
}

/** The features a vision encoder file gives for float32 pixels (as transformers.js feeds them), flattened. */
async function encoderOutput(file: string, layout: VlmSpec['kind'], image: ProcessedImage, pixels = image.pixels): Promise<number[]> {
  const { tiles, height, width } = image;
  const feeds: Record<string, Tensor> = layout === 'smolvlm'
    ? { pixel_values: new Tensor('float32', pixels, [1, tiles, 3, height, width]), pixel_attention_mask: new Tensor('bool', new Uint8Array(tiles * height * width).fill(1), [1, tiles, height, width]) }
    : { pixel_values: new Tensor('float32', pixels, [1, 3, height, width]) };
  const out = await (await loadSession(file)).run(feeds);
  return [...(out.image_features.data as Uint16Array | Float32Array)];
}

/** The logits after the prompt of `messages`, images in place. */
async function prefillLogits(model: OnnxChatModel, messages: ChatMessage[]): Promise<Float32Array> {
  const { ids, embed } = await model.prompt(messages);
  return model.decoder.start([ids], undefined, embed).prefill();
}

/** The largest difference between two logit vectors, and the largest magnitude of the second. */
function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

/** Runs `body` on a copy of the model folder `source` (to edit its files), removed afterwards. */
async function inCopyOf(source: string, prefix: string, body: (folder: string) => Promise<void>): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  try {
    cpSync(source, folder, { recursive: true });
    await body(folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** transformers.js's processor and greedy generate() on the same folder, image and rendered prompt. */
async function transformersGreedy(spec: VlmSpec, folder: string, model: OnnxChatModel, messages: ChatMessage[], image: Buffer, steps: number, dtype: 'fp32' | 'fp16' | 'q4f16' = 'fp32') {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = `${dirname(folder)}/`;
  const processor = await tjs.AutoProcessor.from_pretrained(basename(folder));
  const Model = { llava: tjs.LlavaForConditionalGeneration, llava_onevision: tjs.LlavaOnevisionForConditionalGeneration, smolvlm: tjs.SmolVLMForConditionalGeneration }[spec.kind];
  const reference = await Model.from_pretrained(basename(folder), { dtype });
  try {
    const text = model.tokenizer.render(templateMessages(messages, true));
    const raw = await tjs.RawImage.fromBlob(new Blob([new Uint8Array(image)]));
    let inputs;
    if (spec.kind === 'llava_onevision') {
      // transformers.js has no LlavaOnevisionProcessor: AutoProcessor is the image processor alone, so the prompt's
      // <image> is expanded by hand to processor_config.json's num_image_tokens; generate() throws unless that is
      // the vision encoder's row count.
      const tokenizer = await tjs.AutoTokenizer.from_pretrained(basename(folder));
      const { num_image_tokens: count } = JSON.parse(readFileSync(join(folder, 'processor_config.json'), 'utf8')) as { num_image_tokens: number };
      inputs = { ...(await processor(raw)), ...tokenizer(text.replace('<image>', '<image>'.repeat(count))) };
    } else {
      inputs = spec.kind === 'llava' ? await processor(raw, text) : await processor(text, [raw]);
    }
    const promptIds = (inputs.input_ids.tolist() as bigint[][])[0].map(Number);
    const output = (await reference.generate({ ...inputs, max_new_tokens: steps, do_sample: false })) as { tolist(): bigint[][] };
    const tokens = output.tolist()[0].slice(promptIds.length).map(Number).filter((t) => !model.tokenizer.eosIds.includes(t));
    return { promptIds, tokens, pixels: inputs.pixel_values.data as Float32Array, pixelDims: inputs.pixel_values.dims as number[] };
  } finally {
    await reference.dispose();
  }
}

for (const spec of [TINY_LLAVA, TINY_LLAVA_ONEVISION, TINY_SMOLVLM]) {
  describe(`ONNX vision-language engine, ${spec.kind} layout (generated ${spec.name})`, () => {
    // SmolVLM: 200x80 → 128x51 → 128x64: one row of two 64x64 tiles plus the global image. LLaVA-OneVision: a wide
    // image, which Python's any-res would tile as 1x3 (pinpoints 36x108) but transformers.js squeezes into one view.
    const size = { llava: [48, 40], llava_onevision: [120, 40], smolvlm: [200, 80] }[spec.kind];

    test('greedy tokens equal transformers.js generate() on the same files, prompt and pixels included', async () => {
      const folder = await ensureVlmModel(spec);
      const model = await OnnxChatModel.load(folder);
      assert.equal(model.vision, true);
      const image = await png(size[0], size[1]);
      const messages = ask('What is in this image?', image);
      const theirs = await transformersGreedy(spec, folder, model, messages, image, 16);
      const ours = await model.prompt(messages);
      assert.deepEqual(ours.ids, theirs.promptIds, 'the expanded prompt');
      const imageTokens = ours.ids.filter((id) => id === model.visionParts!.imageTokenId).length;
      assert.equal(imageTokens, spec.kind === 'smolvlm' ? 3 * imageSeqLen(spec) : imageSeqLen(spec));
      if (spec.kind === 'smolvlm') assert.ok(model.tokenizer.decode(ours.ids, false).includes('<row_1_col_2>'), 'the image was split into a row of two tiles');
      if (spec.kind === 'llava_onevision') {
        // The configs list image_grid_pinpoints, yet transformers.js's LlavaOnevisionImageProcessor gives one
        // size x size view: should it ever tile (any-res), this fails and moxing must follow.
        assert.ok(Array.isArray(JSON.parse(readFileSync(join(folder, 'preprocessor_config.json'), 'utf8')).image_grid_pinpoints));
        assert.deepEqual(theirs.pixelDims, [1, 3, spec.imageSize, spec.imageSize]);
      }
      const processed = await model.visionParts!.processor.process(await loadImage(image));
      assert.equal(processed.pixels.length, theirs.pixels.length);
      let diff = 0;
      for (let i = 0; i < processed.pixels.length; i++) diff = Math.max(diff, Math.abs(processed.pixels[i] - theirs.pixels[i]));
      assert.ok(diff < 1e-4, `pixel values differ by ${diff}`);
      const result = await model.chat(messages, { temperature: 0, maxTokens: 16 });
      assert.ok(result.tokens.length >= 4, 'the random model generates some tokens');
      assert.deepEqual(result.tokens, theirs.tokens);
    });

    test('fp16 files: float16 features, embeddings, KV cache and logits; greedy tokens equal transformers.js (dtype fp16)', async () => {
      const folder = await ensureVlmModel(spec);
      const model = await OnnxChatModel.load(folder, { variant: 'fp16' });
      assert.deepEqual(model.visionParts!.types, { pixels: 'float32', features: 'float16', embeddings: 'float16', decoderEmbeddings: 'float16' });
      assert.equal(model.decoder.kvType, 'float16');
      const image = await png(size[0], size[1], 2);
      const messages = ask('What is in this image?', image);
      const theirs = await transformersGreedy(spec, folder, model, messages, image, 16, 'fp16');
      assert.deepEqual((await model.prompt(messages)).ids, theirs.promptIds, 'the expanded prompt');
      const result = await model.chat(messages, { temperature: 0, maxTokens: 16 });
      assert.ok(result.tokens.length >= 4, 'the random model generates some tokens');
      assert.deepEqual(result.tokens, theirs.tokens);
      // The image rows are the encoder's float16 features bit for bit, as transformers.js copies them.
      const processed = await model.visionParts!.processor.process(await loadImage(image));
      assert.deepEqual(await imageRows(model, messages), await encoderOutput(join(folder, 'onnx', 'vision_encoder_fp16.onnx'), spec.kind, processed));
      // The half-precision weights are in play: the logits move from the float32 files', a little.
      const [half, full] = [await prefillLogits(model, messages), await prefillLogits(await OnnxChatModel.load(folder), messages)];
      const { diff, scale } = maxDiff(half, full);
      assert.ok(diff > 0 && diff < 0.01 * scale, `fp16 logits differ from fp32 by ${diff} on a scale of ${scale}`);
    });

    test('fp16 files: cached decoding with an image equals full recompute', async () => {
      const model = await OnnxChatModel.load(await ensureVlmModel(spec), { variant: 'fp16' });
      const messages = ask('Describe it.', await png(size[0], size[1], 3));
      const cached = await model.chat(messages, { temperature: 0, maxTokens: 12 });
      assert.ok(cached.tokens.length >= 4, 'the random model generates some tokens');
      assert.deepEqual(cached.tokens, await uncachedGreedy(model, messages, 12));
    });

    test('cached decoding with an image equals full recompute; the image changes the answer', async () => {
      const model = await OnnxChatModel.load(await ensureVlmModel(spec));
      const messages = ask('Describe it.', await png(size[0], size[1], 3));
      const cached = await model.chat(messages, { temperature: 0, maxTokens: 12 });
      assert.deepEqual(cached.tokens, await uncachedGreedy(model, messages, 12));
      const other = await model.chat(ask('Describe it.', await png(size[0], size[1], 7)), { temperature: 0, maxTokens: 12 });
      assert.notDeepEqual(other.tokens, cached.tokens);
    });

    test('the prefix cache stops at the first image: the same text with another image answers as a fresh model', async () => {
      const folder = await ensureVlmModel(spec);
      const model = await OnnxChatModel.load(folder);
      await model.chat(ask('Describe it.', await png(size[0], size[1], 3)), { temperature: 0, maxTokens: 4 });
      const messages = ask('Describe it.', await png(size[0], size[1], 5));
      const reused = await model.chat(messages, { temperature: 0, maxTokens: 10 });
      const fresh = await (await OnnxChatModel.load(folder)).chat(messages, { temperature: 0, maxTokens: 10 });
      assert.ok(reused.cachedTokens > 0 && reused.cachedTokens < reused.promptTokens - imageSeqLen(spec), `cached ${reused.cachedTokens}`);
      assert.deepEqual(reused.tokens, fresh.tokens);
    });
  });
}

describe('vision-language options', () => {
  test('SmolVLM without image splitting (one global tile) equals transformers.js too', async () => {
    await inCopyOf(await ensureVlmModel(TINY_SMOLVLM), 'moxing-vlm-nosplit-', async (folder) => {
      const config = JSON.parse(readFileSync(join(folder, 'preprocessor_config.json'), 'utf8'));
      writeFileSync(join(folder, 'preprocessor_config.json'), JSON.stringify({ ...config, do_image_splitting: false }));
      const model = await OnnxChatModel.load(folder);
      const image = await png(150, 90, 2);
      const messages = ask('And this one?', image);
      const theirs = await transformersGreedy(TINY_SMOLVLM, folder, model, messages, image, 12);
      const ours = await model.chat(messages, { temperature: 0, maxTokens: 12 });
      assert.equal((await model.prompt(messages)).ids.filter((id) => id === model.visionParts!.imageTokenId).length, imageSeqLen(TINY_SMOLVLM));
      assert.deepEqual((await model.prompt(messages)).ids, theirs.promptIds);
      assert.deepEqual(ours.tokens, theirs.tokens);
    });
  });

  test('two images expand in order: each gets its own features, and swapping them changes the answer', async () => {
    const model = await OnnxChatModel.load(await ensureVlmModel(TINY_LLAVA));
    const [a, b] = [await png(40, 40, 2), await png(40, 40, 9)];
    const both = await model.prompt(ask('Compare them.', a, b));
    assert.equal(both.ids.filter((id) => id === model.visionParts!.imageTokenId).length, 2 * imageSeqLen(TINY_LLAVA));
    const ab = await model.chat(ask('Compare them.', a, b), { temperature: 0, maxTokens: 10 });
    const ba = await model.chat(ask('Compare them.', b, a), { temperature: 0, maxTokens: 10 });
    assert.notDeepEqual(ab.tokens, ba.tokens);
    assert.deepEqual(ab.tokens, await uncachedGreedy(model, ask('Compare them.', a, b), 10));
  });

  test('a q4 variant of the three files loads and tracks the fp32 logits; a missing variant is a clear error', async () => {
    await inCopyOf(await ensureVlmModel(TINY_LLAVA), 'moxing-vlm-q4-', async (folder) => {
      for (const name of ['vision_encoder', 'embed_tokens', 'decoder_model_merged']) quantizeFile(join(folder, 'onnx', `${name}.onnx`), join(folder, 'onnx', `${name}_q4.onnx`), { to: 'q4', accuracyLevel: 0 });
      const q4 = await OnnxChatModel.load(folder, { variant: 'q4' });
      assert.equal(q4.vision, true);
      const fp32 = await OnnxChatModel.load(folder);
      const messages = ask('What is it?', await png(40, 40));
      const { diff, scale } = maxDiff(await prefillLogits(q4, messages), await prefillLogits(fp32, messages));
      assert.ok(diff > 0 && diff < 0.5 * scale, `q4 logits differ by ${diff} on a scale of ${scale}`);
      await assert.rejects(OnnxChatModel.load(folder, { variant: 'q8' }), { code: 'MODEL_INVALID', message: /vision_encoder_quantized\.onnx/ });
    });
  });
});

describe('vision-language files in float16', () => {
  test('float16 pixel_values: the pixels are narrowed as ONNX Runtime’s Cast narrows them (the image rows equal the float32-input encoder’s features on half-rounded pixels, bit for bit)', async () => {
    const source = await ensureVlmModel(TINY_LLAVA);
    await inCopyOf(source, 'moxing-vlm-pixels16-', async (folder) => {
      // The fp16 encoder's first node casts pixel_values to float16: declared float16, that Cast changes nothing.
      retypeInput(join(folder, 'onnx', 'vision_encoder_fp16.onnx'), 'pixel_values', ELEM_FLOAT16);
      const model = await OnnxChatModel.load(folder, { variant: 'fp16' });
      assert.deepEqual(model.visionParts!.types, { pixels: 'float16', features: 'float16', embeddings: 'float16', decoderEmbeddings: 'float16' });
      const image = await png(40, 40, 6);
      const ours = await imageRows(model, ask('What is it?', image));
      assert.equal(ours.length, imageSeqLen(TINY_LLAVA) * TINY_LLAVA.text.hidden);
      // The float32-input encoder, fed pixels already rounded to half (ONNX Runtime drops its own Cast pair there).
      const processed = await model.visionParts!.processor.process(await loadImage(image));
      assert.deepEqual(ours, await encoderOutput(join(source, 'onnx', 'vision_encoder_fp16.onnx'), 'llava', processed, float16ToFloat32(float32ToFloat16(processed.pixels))));
    });
  });

  test('float32 embeddings before a float16 decoder: the float16 features are widened into them and the whole narrowed, the same logits bit for bit; cached decoding equals full recompute', async () => {
    const source = await ensureVlmModel(TINY_LLAVA);
    await inCopyOf(source, 'moxing-vlm-embeds32-', async (folder) => {
      cpSync(join(folder, 'onnx', 'embed_tokens.onnx'), join(folder, 'onnx', 'embed_tokens_fp16.onnx'));
      const mixed = await OnnxChatModel.load(folder, { variant: 'fp16' });
      assert.deepEqual(mixed.visionParts!.types, { pixels: 'float32', features: 'float16', embeddings: 'float32', decoderEmbeddings: 'float16' });
      const messages = ask('What is it?', await png(40, 40, 6));
      const reference = await OnnxChatModel.load(source, { variant: 'fp16' });
      assert.deepEqual(await prefillLogits(mixed, messages), await prefillLogits(reference, messages));
      const cached = await mixed.chat(messages, { temperature: 0, maxTokens: 8 });
      assert.deepEqual(cached.tokens, await uncachedGreedy(mixed, messages, 8));
    });
  });

  test('fp16 files: a batch of text prompts equals each alone, and a reused prefix with another image answers as a fresh model', async () => {
    const folder = await ensureVlmModel(TINY_SMOLVLM);
    const model = await OnnxChatModel.load(folder, { variant: 'fp16' });
    const prompts = [model.promptIds([{ role: 'user', content: 'Hello there, how are you?' }]), model.promptIds([{ role: 'user', content: 'Hi' }])];
    const batch = await model.generateBatch(prompts, { temperature: 0, maxTokens: 8 });
    const alone = [await model.generateBatch([prompts[0]], { temperature: 0, maxTokens: 8 }), await model.generateBatch([prompts[1]], { temperature: 0, maxTokens: 8 })];
    assert.ok(batch.every((c) => c.tokens.length > 0), 'each prompt gets tokens');
    assert.deepEqual(batch.map((c) => c.tokens), alone.map(([c]) => c.tokens));
    await model.chat(ask('Describe it.', await png(200, 80, 3)), { temperature: 0, maxTokens: 4 });
    const messages = ask('Describe it.', await png(200, 80, 5));
    const reused = await model.chat(messages, { temperature: 0, maxTokens: 10 });
    const fresh = await (await OnnxChatModel.load(folder, { variant: 'fp16' })).chat(messages, { temperature: 0, maxTokens: 10 });
    assert.ok(reused.cachedTokens > 0, `cached ${reused.cachedTokens}`);
    assert.deepEqual(reused.tokens, fresh.tokens);
  });

  test('a pixel input of another dtype (int8) is an error naming the file, the input and the dtype', async () => {
    await inCopyOf(await ensureVlmModel(TINY_SMOLVLM), 'moxing-vlm-int8-', async (folder) => {
      retypeInput(join(folder, 'onnx', 'vision_encoder_fp16.onnx'), 'pixel_values', ELEM_INT8);
      await assert.rejects(OnnxChatModel.load(folder, { variant: 'fp16' }), { code: 'MODEL_INVALID', message: /vision_encoder_fp16\.onnx takes pixel_values as int8; float32 and float16 are supported/ });
    });
  });

  test('q4f16 files (q4 weights, float16 activations) load; greedy tokens equal transformers.js (dtype q4f16)', async () => {
    const source = await ensureVlmModel(TINY_SMOLVLM);
    await inCopyOf(source, 'moxing-vlm-q4f16-', async (folder) => {
      // As transformers.js's quantize script makes q4f16: the q4 model, then the float16 conversion.
      for (const name of ['vision_encoder', 'embed_tokens', 'decoder_model_merged']) {
        const model = decodeModel(readFileSync(join(folder, 'onnx', `${name}.onnx`)));
        quantizeModel(model, { to: 'q4', accuracyLevel: 0 });
        saveModel(toFloat16(model, { keepFloat32: ['pixel_values'] }), join(folder, 'onnx', `${name}_q4f16.onnx`));
      }
      const model = await OnnxChatModel.load(folder, { variant: 'q4f16', q4AccuracyLevel: false });
      assert.deepEqual(model.visionParts!.types, { pixels: 'float32', features: 'float16', embeddings: 'float16', decoderEmbeddings: 'float16' });
      const image = await png(200, 80, 4);
      const messages = ask('What is it?', image);
      const theirs = await transformersGreedy(TINY_SMOLVLM, folder, model, messages, image, 12, 'q4f16');
      const ours = await model.chat(messages, { temperature: 0, maxTokens: 12 });
      assert.ok(ours.tokens.length >= 4, 'the random model generates some tokens');
      assert.deepEqual(ours.tokens, theirs.tokens);
      const { diff, scale } = maxDiff(await prefillLogits(model, messages), await prefillLogits(await OnnxChatModel.load(source), messages));
      assert.ok(diff > 0 && diff < 0.5 * scale, `q4f16 logits differ from fp32 by ${diff} on a scale of ${scale}`);
      // The default accuracy level (int8 activations) runs on the float16 activations too, and answers alike.
      const fast = await OnnxChatModel.load(folder, { variant: 'q4f16' });
      const level4 = maxDiff(await prefillLogits(fast, messages), await prefillLogits(model, messages));
      assert.ok(level4.diff < 0.5 * level4.scale, `accuracy level 4 moves the q4f16 logits by ${level4.diff} on a scale of ${level4.scale}`);
    });
  });
});

describe('a vision-language model from the hub', () => {
  test('a hub id downloads the three files and the processor configs (not model.onnx) and answers as the folder does', async () => {
    const source = await ensureVlmModel(TINY_SMOLVLM);
    const files: Record<string, { bytes: Buffer }> = {};
    for (const name of readdirSync(source, { recursive: true }) as string[]) if (statSync(join(source, name)).isFile()) files[name.split('\\').join('/')] = { bytes: readFileSync(join(source, name)) };
    const hub = await startFakeHub({ 'test-org/smolvlm-tiny': files });
    const cacheDir = mkdtempSync(join(tmpdir(), 'moxing-vlm-hub-'));
    try {
      const model = await OnnxChatModel.load('test-org/smolvlm-tiny', { hub: { endpoint: hub.endpoint, cacheDir, offline: false, token: undefined } });
      assert.equal(model.vision, true);
      const fetched = new Set(hub.requests.map((r) => r.url));
      for (const name of ['onnx/vision_encoder.onnx', 'onnx/embed_tokens.onnx', 'onnx/decoder_model_merged.onnx', 'preprocessor_config.json', 'processor_config.json']) assert.ok([...fetched].some((u) => u.includes(name)), `${name} was fetched`);
      assert.ok(![...fetched].some((u) => u.includes('onnx/model.onnx')));
      const messages = ask('What is it?', await png(90, 60, 4));
      const local = await (await OnnxChatModel.load(source)).chat(messages, { temperature: 0, maxTokens: 8 });
      assert.deepEqual((await model.chat(messages, { temperature: 0, maxTokens: 8 })).tokens, local.tokens);
    } finally {
      await hub.close();
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('vision-language input errors', () => {
  test('an image to a text-only model is refused', async () => {
    const model = await OnnxChatModel.load(await ensureLlmModel(TINY_LLM));
    assert.equal(model.vision, false);
    await assert.rejects(model.chat(ask('What is this?', await png(8, 8))).result(), { code: 'BAD_ARGUMENT', message: /reads text only/ });
  });

  test('too many images, a non-image, a remote URL, an oversized or pixel-bomb image, and an image token in text are clear errors', async () => {
    const model = await OnnxChatModel.load(await ensureVlmModel(TINY_LLAVA), { imageLimits: { maxImages: 2, maxImageBytes: 50_000, maxImagePixels: 1_000_000 } });
    const small = await png(16, 16);
    await assert.rejects(model.chat(ask('three?', small, small, small)).result(), { code: 'BAD_ARGUMENT', message: /3 images; at most 2/ });
    await assert.rejects(model.chat(ask('text?', Buffer.from('hello, not an image'))).result(), { code: 'IMAGE_INVALID' });
    const remote: ChatMessage[] = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }];
    await assert.rejects(model.chat(remote).result(), { code: 'BAD_ARGUMENT', message: /remote image URLs are not fetched/ });
    await assert.rejects(model.chat(ask('big?', Buffer.alloc(60_000, 1))).result(), { code: 'PAYLOAD_TOO_LARGE' });
    await assert.rejects(model.chat(ask('bomb?', pngDeclaring(5000, 5000))).result(), { code: 'PAYLOAD_TOO_LARGE', message: /5000x5000/ });
    await assert.rejects(model.chat(ask('what is <image> here?', small)).result(), { code: 'BAD_ARGUMENT', message: /2 image placeholders .* for 1 images/ });
  });

  test('image features that do not match the image tokens are an error naming both counts', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'moxing-vlm-'));
    try {
      cpSync(await ensureVlmModel(TINY_LLAVA), broken, { recursive: true });
      const config = JSON.parse(readFileSync(join(broken, 'processor_config.json'), 'utf8'));
      writeFileSync(join(broken, 'processor_config.json'), JSON.stringify({ ...config, num_additional_image_tokens: 0 }));
      const model = await OnnxChatModel.load(broken);
      await assert.rejects(model.chat(ask('count?', await png(40, 40))).result(), { code: 'MODEL_INVALID', message: /gave 17 image features for 16 image tokens/ });
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
