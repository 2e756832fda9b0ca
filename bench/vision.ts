/**
 * How many images per second does moxing embed, against transformers.js `image-feature-extraction` on the same
 * ONNX file and the same images? (target: >= 1.5x)
 *
 * Run: npx tsx bench/vision.ts [--images 32] [--batch 8] [--repeats 2] [--rounds 2] [--model <folder>]
 *
 * The model is a DINOv2 ViT-S/14 in the real export layout with random weights (test/models/vit.ts, SMALL_DINOV2:
 * 384 wide, 12 layers, 6 heads, 22M parameters), so the network costs what dinov2-small costs. The images are
 * 640x480 JPEGs. Both runners start from file paths and end with one pooled CLS vector per image, batched the
 * same way, on the same onnxruntime-node build; each runs in its own process (bench/lib.ts runChild) and reports
 * the minimum over repeats after a warm-up batch, with the model load excluded. On a shared machine the load
 * drifts by the minute, so the runners take turns for `rounds` rounds; each keeps its best round for the table,
 * and the paired ratio (moxing / transformers.js within the same round, back to back) is printed per round with
 * its median, which is the fairer figure when one runner happened to get a quiet minute. "moxing, one session"
 * is moxing with its worker lanes off (one ORT session with every core, as transformers.js runs).
 */
import { mkdirSync, existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
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
  } else if (name === 'moxing' || name === 'moxing, one session') {
    const { VisionModel, embedImages } = await import('../src/vision/index.js');
    // An explicit thread count turns the worker lanes off: one session with every core, as before the lanes.
    const model = await VisionModel.load(modelDir, name === 'moxing' ? {} : { runtime: { intraOpThreads: availableParallelism() } });
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
    rounds: { type: 'string', default: '2' },
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
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`load average before: ${load()}`);
  // The front ends alone (decode + resize + crop + normalise) show where the time goes.
  const names = ['transformers.js', 'moxing', 'moxing, one session', 'transformers.js front end', 'moxing front end'];
  const best = new Map<string, RunnerReport>();
  const paired: number[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const wall = new Map<string, number>();
    for (const name of names) {
      const report = await runChild(SCRIPT, ['runner', name, modelDir, imageDir, String(count), String(values.batch), String(values.repeats)]);
      wall.set(name, report.wallMs);
      const previous = best.get(name);
      if (!previous || report.wallMs < previous.wallMs) best.set(name, report);
    }
    const ratio = (wall.get('transformers.js') as number) / (wall.get('moxing') as number);
    paired.push(ratio);
    console.log(`round ${round + 1}: moxing ${ratio.toFixed(2)}x transformers.js (load ${load()})`);
  }
  const reports = names.map((name) => best.get(name) as RunnerReport);
  // One statistic for the headline and the table: each runner's best wall over all rounds. The per-round
  // ratios are printed too, so a drifting machine shows, but they never stand in for the table's figure.
  console.log(`moxing vs transformers.js, best walls: ${(reports[0].wallMs / reports[1].wallMs).toFixed(2)}x; per round: ${paired.map((r) => `${r.toFixed(2)}x`).join(', ')}`);
  console.log(`load average after: ${load()} (2 cores shared with other work: absolute numbers drift, ratios less)\n`);
  printTable(
    ['runner', 'best wall', 'images/s', 'peak RSS', 'speed vs transformers.js (best walls)'],
    reports.map((r, i) => {
      const peer = reports[i < 3 ? 0 : 3];
      return [r.runner, `${(r.wallMs / 1000).toFixed(2)} s`, (count / (r.wallMs / 1000)).toFixed(1), mb(r.peakRssBytes), `${(peer.wallMs / r.wallMs).toFixed(2)}x`];
    }),
  );
}
