/**
 * Time to first token of a vision-language model with one image (the VLM row of `npm run bench:chat`, which runs
 * this file after the text engines; `tsx bench/chat-vlm.ts` runs it alone): a random SmolVLM-256M-shaped model
 * (SigLIP-B/16 at 512 px with 2 of its 12 layers, pixel shuffle 4, SmolLM2-135M's width with 4 of its 30 layers),
 * a 1000x750 image (resized to 1024x768, split into 2x2 tiles plus the global one: 320 image tokens), moxing's ONNX
 * engine against transformers.js on the same files. Time to first token covers preprocessing, the vision encoder,
 * the embeddings and the prefill. The minimum of --repeats runs (default 3) is reported.
 */
import { basename, dirname } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ensureVlmModel, SMOLVLM_256M_SHAPED, BENCH_MODELS_DIR } from '../test/models/index.js';
import { OnnxChatModel } from '../src/chat/onnx-chat.js';
import { templateMessages, type ChatMessage } from '../src/chat/chat.js';
import { printTable } from './lib.js';

// Not strict: bench/chat.ts's own flags pass through when it runs this file.
const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' } }, strict: false });
const repeats = Number(values.repeats);
const dir = await ensureVlmModel(SMOLVLM_256M_SHAPED, BENCH_MODELS_DIR);

const pixels = Buffer.alloc(1000 * 750 * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31 + Math.floor(i / 3000) * 7) % 256;
const image = await sharp(pixels, { raw: { width: 1000, height: 750, channels: 3 } }).png().toBuffer();
const messages: ChatMessage[] = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${image.toString('base64')}` } }, { type: 'text', text: 'What is in this image?' }] }];

async function fastest(run: () => Promise<unknown>): Promise<number> {
  await run(); // warm-up
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    await run();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

const model = await OnnxChatModel.load(dir);
const promptTokens = (await model.prompt(messages)).ids.length;
const rows: [string, number][] = [];
// A fresh prefix every run: the cache would otherwise skip the text before the image.
rows.push(['moxing ONNX fp32', await fastest(async () => {
  await model.dispose();
  await model.chat(messages, { temperature: 0, maxTokens: 1 });
})]);

{
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.localModelPath = `${dirname(dir)}/`;
  const processor = await tjs.AutoProcessor.from_pretrained(basename(dir));
  const reference = await tjs.SmolVLMForConditionalGeneration.from_pretrained(basename(dir), { dtype: 'fp32' });
  const text = model.tokenizer.render(templateMessages(messages, true));
  rows.push(['transformers.js fp32 (same files)', await fastest(async () => {
    const raw = await tjs.RawImage.fromBlob(new Blob([new Uint8Array(image)]));
    const inputs = await processor(text, [raw]);
    await reference.generate({ ...inputs, max_new_tokens: 1, do_sample: false });
  })]);
  await reference.dispose();
}

const s = SMOLVLM_256M_SHAPED;
console.log(`\nvision-language time to first token: SmolVLM-256M-shaped (vision ${s.visionHidden} wide, ${s.visionLayers} layers; text ${s.text.hidden} wide, ${s.text.layers} layers), one 1000x750 image, ${promptTokens} prompt tokens; minimum of ${repeats}; load average ${loadavg()[0].toFixed(1)}\n`);
printTable(['engine', 'time to first token (ms)', 'vs transformers.js'], rows.map(([name, ms]) => [name, ms.toFixed(0), (rows[rows.length - 1][1] / ms).toFixed(2)]));
