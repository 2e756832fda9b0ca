/** `moxing search IMAGE`: the most similar images in the index, with cosine scores. */
import type { Command } from 'commander';
import { MoxingError } from '../errors.js';
import { openVectorIndex, type VectorIndex } from '../vectors/index.js';
import { embedImages, POOLINGS, type Pooling, type VisionModel } from '../vision/index.js';
import { DEFAULT_VISION_MODEL, defaultIndexLocation, loadModelFromCli, withIndexOptions, withModelOptions, type ModelCliOptions, output } from './embed.js';
import { parseInteger } from './options.js';

interface SearchCliOptions extends Omit<ModelCliOptions, 'model'> {
  model?: string;
  index?: string;
  table: string;
  k: number;
  ef?: number;
  json?: boolean;
}

/** Loads the model an index was built with (or the one asked for, which must be the same) and its pooling. */
export async function modelForIndex(index: VectorIndex, options: Omit<ModelCliOptions, 'model'> & { model?: string }): Promise<{ model: VisionModel; pool: Pooling }> {
  const attributes = await index.attributes();
  const pool = (attributes.pool ?? 'cls') as Pooling;
  if (!(POOLINGS as readonly string[]).includes(pool)) throw new MoxingError('BAD_ARGUMENT', `the index records an unknown pooling "${pool}"`);
  const model = await loadModelFromCli({ ...options, model: options.model ?? attributes.model ?? DEFAULT_VISION_MODEL });
  if (attributes.model && model.info.ref !== attributes.model) {
    throw new MoxingError('BAD_ARGUMENT', `the index was built with the model ${attributes.model}, not ${model.info.ref}; omit --model to use it`);
  }
  return { model, pool };
}

export function register(program: Command): void {
  const command = program
    .command('search')
    .description('find the images in the index most similar to IMAGE')
    .argument('<image>', 'query image')
    .option('-k, --k <n>', 'number of results', parseInteger('--k', 1, 10_000), 10)
    .option('--ef <n>', 'HNSW search breadth: higher finds more of the true neighbours, slower (default: the index\'s)', parseInteger('--ef', 1, 100_000))
    .option('--json', 'print results as JSON');
  withModelOptions(withIndexOptions(command), null, ' (default: the one the index was built with)').action(async (image: string, options: SearchCliOptions) => {
    const location = options.index ?? defaultIndexLocation();
    const index = await openVectorIndex(location, { table: options.table });
    try {
      const { model, pool } = await modelForIndex(index, options);
      const [query] = await embedImages(model, [image], { pool });
      const hits = await index.search(query, options.k, { ef: options.ef });
      if (options.json) {
        output.write(`${JSON.stringify(hits.map((h) => ({ path: h.key, score: h.score })), null, 2)}\n`);
        return;
      }
      if (hits.length === 0) process.stderr.write(`the index at ${location} is empty; add images with \`moxing index DIR\`\n`);
      for (const h of hits) output.write(`${h.score.toFixed(4)}  ${h.key}\n`);
    } finally {
      await index.close();
    }
  });
}
