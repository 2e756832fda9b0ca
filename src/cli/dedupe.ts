/** `moxing dedupe DIR`: groups of near-duplicate images (indexing DIR incrementally first). */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DUPLICATES, openVectorIndex } from '../vectors/index.js';
import { dedupeFolder, defaultIndexLocation, embeddingSize, indexAttributes } from '../vision/index.js';
import { indexProgress, loadModelFromCli, output, printIndexReport, withIndexingOptions, withModelOptions, type IndexCliOptions } from './vision-options.js';
import { MoxingError } from '../errors.js';

interface DedupeCliOptions extends IndexCliOptions {
  threshold: number;
}

/**
 * Checked before any model is loaded or image indexed. A cosine threshold of 0 or below would call unrelated
 * images duplicates (and -1 would link everything), so the useful range is (0, 1].
 */
export function parseThreshold(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 0 && n <= 1)) {
    throw new MoxingError('BAD_ARGUMENT', `--threshold must be a cosine similarity in (0, 1], such as ${DEFAULT_DUPLICATES.threshold}, got "${value}"`);
  }
  return n;
}

export function register(program: Command): void {
  const command = program
    .command('dedupe')
    .description('find groups of near-duplicate images under DIR (cosine similarity >= --threshold)')
    .argument('<dir>', 'folder of images (searched recursively)')
    .option('--threshold <t>', 'minimum cosine similarity of duplicates, in (0, 1]', parseThreshold, DEFAULT_DUPLICATES.threshold)
    .option('--json', 'print the groups as JSON');
  withModelOptions(withIndexingOptions(command)).action(async (dir: string, options: DedupeCliOptions) => {
    const model = await loadModelFromCli(options);
    const location = options.index ?? defaultIndexLocation();
    const index = await openVectorIndex(location, { dim: embeddingSize(model.info.hiddenSize, options.pool), attributes: indexAttributes(model, options.pool), table: options.table });
    try {
      const progress = indexProgress(options.json);
      const { report, groups } = await dedupeFolder(model, dir, index, { pool: options.pool, batchSize: options.batchSize, threshold: options.threshold, onProgress: progress.onProgress });
      progress.stop();
      if (!options.json) printIndexReport(dir, location, report, process.stderr);
      if (options.json) {
        output.write(`${JSON.stringify(groups.map((g) => ({ paths: g.keys, minScore: g.minScore })), null, 2)}\n`);
        return;
      }
      if (groups.length === 0) output.write(`no near-duplicates at threshold ${options.threshold}\n`);
      groups.forEach((g, i) => {
        output.write(`group ${i + 1} (${g.keys.length} images, similarity >= ${g.minScore.toFixed(4)}):\n`);
        for (const k of g.keys) output.write(`  ${relative(process.cwd(), k) || k}\n`);
      });
    } finally {
      await index.close();
    }
  });
}
