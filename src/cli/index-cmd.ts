/** `moxing index DIR`: embed every image under DIR into the image index, incrementally, with a progress bar. */
import type { Command } from 'commander';
import { openVectorIndex } from '../vectors/index.js';
import { defaultIndexLocation, embeddingSize, indexAttributes, indexImages, type IndexReport, type VisionModel } from '../vision/index.js';
import { indexProgress, loadModelFromCli, output, printIndexReport, withIndexingOptions, withModelOptions, type IndexCliOptions } from './vision-options.js';

/** Indexes DIR with the command's options and returns the report. */
async function runIndex(model: VisionModel, dir: string, options: IndexCliOptions): Promise<{ report: IndexReport; location: string }> {
  const location = options.index ?? defaultIndexLocation();
  const index = await openVectorIndex(location, { dim: embeddingSize(model.info.hiddenSize, options.pool), attributes: indexAttributes(model, options.pool), table: options.table });
  const progress = indexProgress();
  try {
    const report = await indexImages(model, dir, index, { pool: options.pool, batchSize: options.batchSize, onProgress: progress.onProgress });
    return { report, location };
  } finally {
    progress.stop();
    await index.close();
  }
}

export function register(program: Command): void {
  const command = program
    .command('index')
    .description('embed every image under DIR into the image index (only new or changed files are embedded again)')
    .argument('<dir>', 'folder of images (searched recursively)')
    .option('--json', 'print the report as JSON');
  withModelOptions(withIndexingOptions(command)).action(async (dir: string, options: IndexCliOptions) => {
    const model = await loadModelFromCli(options);
    const { report, location } = await runIndex(model, dir, options);
    if (options.json) output.write(`${JSON.stringify({ index: location, ...report }, null, 2)}\n`);
    else printIndexReport(dir, location, report);
  });
}
