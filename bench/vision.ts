/**
 * How many images per second does moxing embed, against transformers.js `image-feature-extraction` on the same
 * ONNX file and the same images? (target: >= 1.5x)
 *
 * Run: npx tsx bench/vision.ts [--images 32] [--batch 8] [--repeats 2] [--model <folder>]
 *
 * The model is a DINOv2 ViT-S/14 in the real export layout with random weights (test/models/vit.ts, SMALL_DINOV2:
 * 384 wide, 12 layers, 6 heads, 22M parameters), so the network costs what dinov2-small costs. The images are
 * 640x480 JPEGs. Both runners start from file paths and end with one pooled CLS vector per image, batched the
 * same way, on the same onnxruntime-node build; each runs in its own process (bench/lib.ts runChild) and reports
 * the minimum over repeats after a warm-up batch, with the model load excluded.
 */
import { mkdirSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { SMALL_DINOV2, writeVitModel } from '../test/models/vit.js';
import { emitReport, mb, minTime, peakRssBytes, printTable, runChild, workDir, type RunnerReport } from './lib.js';

const SCRIPT = 'bench/vision.ts';

async function makeImages(dir: string, count: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(dir, `img${i}.jpg`);
    paths.push(path);
    if (existsSync(path)) continue;
    // Noise plus shapes: JPEG-decoding work close to a photo's.
    const noise = Buffer.alloc(640 * 480 * 3);
    let s = i + 1;
    for (let j = 0; j < noise.length; j++) {
      s = (s * 1103515245 + 12345) >>> 0;
      noise[j] = (s >>> 24) & 0xff;
    }
    const svg = `<svg width="640" height="480" xmlns="http://www.w3.org/2000/svg"><circle cx="${200 + i * 7}" cy="240" r="120" fill="rgb(${(i * 40) % 255},90,160)"/></svg>`;
    await sharp(noise, { raw: { width: 640, height: 480, channels: 3 } }).blur(2).composite([{ input: Buffer.from(svg) }]).jpeg({ quality: 90 }).toFile(path);
  }
  return paths;
}

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function runner(name: string, modelDir: string, imageDir: string, count: number, batch: number, repeats: number): Promise<void> {
  const paths = Array.from({ length: count }, (_, i) => join(imageDir, `img${i}.jpg`));
  let run: () => Promise<number>;
  if (name === 'moxing front end') {
    const { loadImage, preprocess, DINOV2_PROCESSOR } = await import('../src/vision/index.js');
    run = async () => {
      let n = 0;
      for (const chunk of batches(paths, batch)) n += (await Promise.all(chunk.map(async (p) => preprocess(await loadImage(p), DINOV2_PROCESSOR)))).length;
      return n;
    };
  } else if (name === 'transformers.js front end') {
    const { AutoProcessor, RawImage, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${dirname(modelDir)}/`;
    const processor = await AutoProcessor.from_pretrained(basename(modelDir));
    run = async () => {
      let n = 0;
      for (const chunk of batches(paths, batch)) n += (await processor(await Promise.all(chunk.map((p) => RawImage.read(p))))).pixel_values.dims[0];
      return n;
    };
  } else if (name === 'moxing') {
    const { VisionModel, embedImages } = await import('../src/vision/index.js');
    const model = await VisionModel.load(modelDir);
    run = async () => (await embedImages(model, paths, { pool: 'cls', batchSize: batch, normalize: false })).length;
  } else {
    const { pipeline, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${dirname(modelDir)}/`;
    const extractor = await pipeline('image-feature-extraction', basename(modelDir), { dtype: 'fp32', device: 'cpu' });
    run = async () => {
      let n = 0;
      for (const chunk of batches(paths, batch)) n += (await extractor(chunk, { pool: true })).dims[0];
      return n;
    };
  }
  const warm = await run(); // warm-up: first-call costs (JIT, ORT arena growth) are not the steady state
  if (warm !== count) throw new Error(`${name} embedded ${warm} of ${count} images`);
  const wallMs = await minTime(repeats, async () => void (await run()));
  emitReport({ runner: name, wallMs, peakRssBytes: peakRssBytes(), extra: { images: count } });
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    images: { type: 'string', default: '32' },
    batch: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '2' },
    model: { type: 'string' },
  },
});

if (positionals[0] === 'runner') {
  const [, name, modelDir, imageDir, count, batch, repeats] = positionals;
  await runner(name, modelDir, imageDir, Number(count), Number(batch), Number(repeats));
} else {
  const count = Number(values.images);
  const modelDir = values.model ?? writeVitModel(SMALL_DINOV2, workDir('vision', 'models'));
  const imageDir = workDir('vision', 'images');
  await makeImages(imageDir, count);
  console.log(`model: ${modelDir} (DINOv2 ViT-S/14 layout, random weights); ${count} JPEGs 640x480; batch ${values.batch}; min of ${values.repeats} repeat(s)\n`);
  const reports: RunnerReport[] = [];
  for (const name of ['transformers.js', 'moxing']) {
    reports.push(await runChild(SCRIPT, ['runner', name, modelDir, imageDir, String(count), String(values.batch), String(values.repeats)]));
  }
  // The front ends alone (decode + resize + crop + normalise), to show where the time goes.
  for (const name of ['transformers.js front end', 'moxing front end']) {
    reports.push(await runChild(SCRIPT, ['runner', name, modelDir, imageDir, String(count), String(values.batch), String(values.repeats)]));
  }
  printTable(
    ['runner', 'wall', 'images/s', 'peak RSS', 'speed vs transformers.js'],
    reports.map((r, i) => {
      const peer = reports[i < 2 ? 0 : 2];
      return [r.runner, `${(r.wallMs / 1000).toFixed(2)} s`, (count / (r.wallMs / 1000)).toFixed(1), mb(r.peakRssBytes), `${(peer.wallMs / r.wallMs).toFixed(2)}x`];
    }),
  );
}
