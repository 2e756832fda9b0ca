/**
 * `moxing embed IMAGES...`: image embeddings as JSON or a NumPy .npy matrix.
 * Also the options and helpers the other vision commands share (model, runtime, index location).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { MoxingError } from '../errors.js';
import { createDownloadProgress, DEFAULT_VARIANT, parseVariant, resolveHubOptions, VARIANTS, type Variant } from '../hub/index.js';
import type { Device } from '../runtime/index.js';
import { DEFAULT_EMBED, embedImages, encodeNpy, POOLINGS, VisionModel, type Pooling } from '../vision/index.js';
import { parseChoice, parseInteger } from './options.js';

/** Where the vision commands print their results (stdout); tests swap `write` to capture them. */
export const output = {
  write(text: string | Uint8Array): void {
    process.stdout.write(text);
  },
};

/** The model every vision command uses unless told otherwise. */
export const DEFAULT_VISION_MODEL = 'dinov2-small';

export interface ModelCliOptions {
  model: string;
  variant: Variant;
  device: Device;
  threads?: number;
}

/** Adds --model, --variant, --device and --threads to a command. */
export function withModelOptions(command: Command, defaultModel: string | null = DEFAULT_VISION_MODEL, modelHelp = ''): Command {
  return command
    .option('-m, --model <model>', `catalogue alias (dinov2-small|base|large|giant[-reg], dino-vits16|vits8|vitb16|vitb8), hub repo id, or a folder${modelHelp}`, defaultModel ?? undefined)
    .option('--variant <variant>', `weights: ${VARIANTS.join(', ')}`, parseVariant, DEFAULT_VARIANT)
    .option('--device <device>', 'cpu or cuda', parseChoice('--device', ['cpu', 'cuda'] as const), 'cpu')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', parseInteger('--threads', 1, 1024));
}

/** Loads the model named by the options, with a download progress bar when it has to be fetched. */
export async function loadModelFromCli(options: ModelCliOptions): Promise<VisionModel> {
  const progress = createDownloadProgress();
  try {
    return await VisionModel.load(options.model, { variant: options.variant, device: options.device, intraOpThreads: options.threads, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
}

/** Where `index`, `search` and `dedupe` keep the image index unless --index says otherwise. */
export function defaultIndexLocation(env: NodeJS.ProcessEnv = process.env): string {
  return env.MOXING_INDEX || join(resolveHubOptions({}, env).cacheDir, 'indexes', 'images');
}

/** Adds --index and --table to a command. */
export function withIndexOptions(command: Command): Command {
  return command
    .option('--index <path>', 'index folder, or a postgres:// URL for pgvector (default: $MOXING_INDEX or <cache>/indexes/images)')
    .option('--table <name>', 'pgvector table name (with a postgres:// --index)', 'moxing_vectors');
}

/** A progress bar on stderr (nothing when stderr is not a terminal). */
export function createCountProgress(label: string, stream: NodeJS.WriteStream = process.stderr): { update(done: number, total: number): void; stop(): void } {
  if (!stream.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar({ stream, format: `${label} [{bar}] {value}/{total} | {eta_formatted} left`, hideCursor: true, fps: 10 }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

interface EmbedCliOptions extends ModelCliOptions {
  pool: Pooling;
  format: 'json' | 'npy';
  output?: string;
  normalize: boolean;
  batchSize: number;
}

export function register(program: Command): void {
  const command = program
    .command('embed')
    .description('embed images with DINOv2/DINO (CLS, mean of patch tokens, or both) as JSON or .npy')
    .argument('<images...>', 'image files (jpeg, png, webp, gif, avif, tiff)')
    .option('--pool <pool>', `features: ${POOLINGS.join(', ')}`, parseChoice('--pool', POOLINGS), DEFAULT_EMBED.pool)
    .option('--format <format>', 'json or npy (float32 [images, dim])', parseChoice('--format', ['json', 'npy'] as const), 'json')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .option('--no-normalize', 'keep raw feature norms (default: unit L2 norm)')
    .option('--batch-size <n>', 'images per inference call', parseInteger('--batch-size', 1, 1024), DEFAULT_EMBED.batchSize);
  withModelOptions(command).action(async (images: string[], options: EmbedCliOptions) => {
    if (options.format === 'npy' && !options.output && process.stdout.isTTY) {
      throw new MoxingError('BAD_ARGUMENT', '--format npy writes binary data: give -o FILE or redirect stdout');
    }
    const model = await loadModelFromCli(options);
    const progress = createCountProgress('embed');
    let vectors: Float32Array[];
    try {
      vectors = await embedImages(model, images, { pool: options.pool, normalize: options.normalize, batchSize: options.batchSize, onProgress: progress.update });
    } finally {
      progress.stop();
    }
    const body =
      options.format === 'npy'
        ? encodeNpy(vectors)
        : `${JSON.stringify({ model: options.model, pool: options.pool, normalized: options.normalize, dim: vectors[0].length, embeddings: images.map((path, i) => ({ path, embedding: Array.from(vectors[i]) })) })}\n`;
    if (options.output) await writeFile(options.output, body);
    else output.write(body);
  });
}
