/** `moxing embed IMAGES...`: image embeddings as JSON or a NumPy .npy matrix. */
import type { Command } from 'commander';
import { writeFilesAtomically } from '../atomic-write.js';
import { MoxingError } from '../errors.js';
import { DEFAULT_EMBED, embedImages, encodeNpy, POOLINGS, type Pooling } from '../vision/index.js';
import { parseChoice, parseInteger } from './options.js';
import { createCountProgress, loadModelFromCli, output, withModelOptions, type ModelCliOptions } from './vision-options.js';

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
    if (options.output) await writeFilesAtomically([{ path: options.output, content: body }]);
    else output.write(body);
  });
}
