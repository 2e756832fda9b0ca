/** `moxing index DIR`: embed every image under DIR into the image index, incrementally, with a progress bar. */
import type { Command } from 'commander';
import { openVectorIndex } from '../vectors/index.js';
import { DEFAULT_EMBED, embeddingSize, indexAttributes, indexImages, POOLINGS, type Pooling, type VisionModel } from '../vision/index.js';
import type { IndexReport } from '../vision/index.js';
import { createCountProgress, defaultIndexLocation, loadModelFromCli, withIndexOptions, withModelOptions, type ModelCliOptions, output } from './embed.js';
import { parseChoice, parseInteger } from './options.js';

export interface IndexCliOptions extends ModelCliOptions {
  index?: string;
  table: string;
  pool: Pooling;
  batchSize: number;
  json?: boolean;
}

/** Indexes DIR with the command's options and returns the report (shared with `dedupe`). */
export async function runIndex(model: VisionModel, dir: string, options: IndexCliOptions): Promise<{ report: IndexReport; location: string }> {
  const location = options.index ?? defaultIndexLocation();
  const index = await openVectorIndex(location, { dim: embeddingSize(model.info.hiddenSize, options.pool), attributes: indexAttributes(model, options.pool), table: options.table });
  const scan = createCountProgress('scan ');
  const embed = createCountProgress('embed');
  try {
    const report = await indexImages(model, dir, index, {
      pool: options.pool,
      batchSize: options.batchSize,
      onProgress: (p) => (p.phase === 'scan' ? scan : embed).update(p.done, p.total),
    });
    return { report, location };
  } finally {
    scan.stop();
    embed.stop();
    await index.close();
  }
}

export function printIndexReport(dir: string, location: string, report: IndexReport, stream: { write(text: string): unknown } = output): void {
  stream.write(`indexed ${dir} into ${location}: ${report.added} added, ${report.updated} updated, ${report.removed} removed, ${report.unchanged} unchanged, ${report.failed.length} unreadable\n`);
  for (const f of report.failed) stream.write(`  skipped ${f.path}: ${f.message}\n`);
}

export function withIndexingOptions(command: Command): Command {
  return withIndexOptions(command)
    .option('--pool <pool>', `features: ${POOLINGS.join(', ')}`, parseChoice('--pool', POOLINGS), DEFAULT_EMBED.pool)
    .option('--batch-size <n>', 'images per inference call', parseInteger('--batch-size', 1, 1024), DEFAULT_EMBED.batchSize);
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
