/** `moxing search IMAGE`: the most similar images in the index, with cosine scores. */
import type { Command } from 'commander';
import { isMoxingError, MoxingError } from '../errors.js';
import { isPostgresUrl, openVectorIndex, type VectorIndex } from '../vectors/index.js';
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

/** Where the index is, for messages (a postgres URL may hold a password: only its table is named). */
function describeIndex(location: string, options: SearchCliOptions): string {
  return isPostgresUrl(location) ? `pgvector table ${options.table}` : location;
}

/** The `moxing index` command that fills the index this search reads. */
function indexCommand(options: SearchCliOptions): string {
  if (options.index === undefined) return '`moxing index DIR`';
  const where = isPostgresUrl(options.index) ? `postgres://… --table ${options.table}` : options.index;
  return `\`moxing index DIR --index ${where}\``;
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
    const index = await openVectorIndex(location, { table: options.table }).catch((cause: unknown) => {
      if (!isMoxingError(cause, 'NOT_FOUND')) throw cause;
      throw new MoxingError('NOT_FOUND', `no image index at ${describeIndex(location, options)}; build one with ${indexCommand(options)}`, { cause });
    });
    try {
      // Before the model loads: an empty index can answer nothing, and the fix is to fill it.
      if ((await index.count()) === 0) {
        throw new MoxingError('NOT_FOUND', `the image index at ${describeIndex(location, options)} is empty; add images with ${indexCommand(options)}`);
      }
      const { model, pool } = await modelForIndex(index, options);
      const [query] = await embedImages(model, [image], { pool });
      const hits = await index.search(query, options.k, { ef: options.ef });
      if (options.json) {
        output.write(`${JSON.stringify(hits.map((h) => ({ path: h.key, score: h.score })), null, 2)}\n`);
        return;
      }
      for (const h of hits) output.write(`${h.score.toFixed(4)}  ${h.key}\n`);
    } finally {
      await index.close();
    }
  });
}
